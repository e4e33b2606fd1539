package serve

import (
	"errors"
	"net/netip"
	"testing"
)

// specialPurpose lists every entry of the IANA IPv4 and IPv6
// special-purpose address registries (and multicast, reserved and
// broadcast), as of 2024; the guard must refuse the first and last address
// of each, and the IPv4-mapped and NAT64 forms of every IPv4 one.
var specialPurpose = []struct{ prefix, name string }{
	{"0.0.0.0/8", "this network"},
	{"10.0.0.0/8", "private-use"},
	{"100.64.0.0/10", "shared address space (CGNAT)"},
	{"127.0.0.0/8", "loopback"},
	{"169.254.0.0/16", "link local (cloud metadata)"},
	{"172.16.0.0/12", "private-use"},
	{"192.0.0.0/24", "IETF protocol assignments"},
	{"192.0.0.0/29", "IPv4 service continuity prefix"},
	{"192.0.0.8/32", "IPv4 dummy address"},
	{"192.0.0.9/32", "port control protocol anycast"},
	{"192.0.0.10/32", "traversal using relays around NAT anycast"},
	{"192.0.0.170/32", "NAT64/DNS64 discovery"},
	{"192.0.0.171/32", "NAT64/DNS64 discovery"},
	{"192.0.2.0/24", "documentation (TEST-NET-1)"},
	{"192.31.196.0/24", "AS112-v4"},
	{"192.52.193.0/24", "AMT"},
	{"192.88.99.0/24", "deprecated 6to4 relay anycast"},
	{"192.168.0.0/16", "private-use"},
	{"192.175.48.0/24", "direct delegation AS112 service"},
	{"198.18.0.0/15", "benchmarking"},
	{"198.51.100.0/24", "documentation (TEST-NET-2)"},
	{"203.0.113.0/24", "documentation (TEST-NET-3)"},
	{"224.0.0.0/4", "multicast"},
	{"240.0.0.0/4", "reserved"},
	{"255.255.255.255/32", "limited broadcast"},

	{"::1/128", "loopback"},
	{"::/128", "unspecified"},
	{"::ffff:0:0/96", "IPv4-mapped"},
	{"64:ff9b::/96", "IPv4-IPv6 translation (NAT64)"},
	{"64:ff9b:1::/48", "IPv4-IPv6 translation, local use"},
	{"100::/64", "discard-only"},
	{"100:0:0:1::/64", "dummy IPv6 prefix"},
	{"2001::/23", "IETF protocol assignments"},
	{"2001::/32", "TEREDO"},
	{"2001:1::1/128", "port control protocol anycast"},
	{"2001:1::2/128", "traversal using relays around NAT anycast"},
	{"2001:1::3/128", "DNS-SD service registration protocol anycast"},
	{"2001:2::/48", "benchmarking"},
	{"2001:3::/32", "AMT"},
	{"2001:4:112::/48", "AS112-v6"},
	{"2001:10::/28", "deprecated ORCHID"},
	{"2001:20::/28", "ORCHIDv2"},
	{"2001:30::/28", "drone remote ID protocol entity tags"},
	{"2001:db8::/32", "documentation"},
	{"2002::/16", "6to4"},
	{"2620:4f:8000::/48", "direct delegation AS112 service"},
	{"3fff::/20", "documentation"},
	{"5f00::/16", "segment routing (SRv6) SIDs"},
	{"fc00::/7", "unique-local"},
	{"fe80::/10", "link-local unicast"},
	{"ff00::/8", "multicast"},
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// forms are the addresses to try for a prefix: its first and last, and for
// IPv4 also their IPv4-mapped and NAT64 (64:ff9b::/96) spellings.
func forms(p netip.Prefix) []netip.Addr {
	out := []netip.Addr{p.Masked().Addr(), lastAddr(p)}
	if p.Addr().Is4() {
		for _, a := range out[:2] {
			v4 := a.As4()
			out = append(out, netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]}))
			out = append(out, netip.AddrFrom16([16]byte{0: 0, 1: 0x64, 2: 0xff, 3: 0x9b, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]}))
		}
	}
	return out
}

func network(a netip.Addr) string {
	if a.Is4() {
		return "tcp4"
	}
	return "tcp6"
}

// TestAddrGuardSpecialPurpose checks the guard itself (the dialer's Control
// hook), never by connecting: every special-purpose range is refused in
// every spelling, public addresses on any port pass, and the
// --allow-private-urls opt-in opens loopback and private-use ranges only.
func TestAddrGuardSpecialPurpose(t *testing.T) {
	strict, private := addrGuard(false), addrGuard(true)
	optIn := map[string]bool{"127.0.0.0/8": true, "10.0.0.0/8": true, "172.16.0.0/12": true, "192.168.0.0/16": true, "::1/128": true, "fc00::/7": true}
	for _, sp := range specialPurpose {
		p := netip.MustParsePrefix(sp.prefix)
		for _, a := range forms(p) {
			addr := netip.AddrPortFrom(a, 80).String()
			if err := strict(network(a), addr, nil); !errors.Is(err, errForbiddenAddr) {
				t.Errorf("%s (%s): %s allowed, want refused (err %v)", sp.prefix, sp.name, addr, err)
			}
			// The opt-in opens its own ranges, in IPv4 and IPv4-mapped
			// spelling; NAT64 forms and everything else stay closed.
			isNAT64 := a.Is6() && netip.MustParsePrefix("64:ff9b::/96").Contains(a) && p.Addr().Is4()
			wantOpen := optIn[sp.prefix] && !isNAT64
			if err := private(network(a), addr, nil); (err == nil) != wantOpen {
				t.Errorf("allow-private: %s (%s): %s: err %v, want open=%v", sp.prefix, sp.name, addr, err, wantOpen)
			}
		}
	}
	for _, addr := range []string{"8.8.8.8:80", "1.1.1.1:443", "93.184.215.14:8080", "[2606:4700:4700::1111]:443", "[2a00:1450:4001:82b::200e]:8443"} {
		a := netip.MustParseAddrPort(addr).Addr()
		if err := strict(network(a), addr, nil); err != nil {
			t.Errorf("public %s refused: %v", addr, err)
		}
	}
}
