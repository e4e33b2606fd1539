package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
)

// TestStdlibLogIsJSON: once a command runs with JSON logs, a line written
// through the standard library's logger (as net/http does) is a JSON
// record at WARN on the command's stderr, not plain text.
func TestStdlibLogIsJSON(t *testing.T) {
	defer log.SetOutput(os.Stderr)
	var out, errb bytes.Buffer
	st := &cli.State{Ctx: context.Background(), Args: []string{"validate", "../../configs/paper.yaml", "--log-format", "json"},
		Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if code := cli.Run(st); code != cli.ExitOK {
		t.Fatalf("validate: exit %d", code)
	}
	log.Printf("Unsolicited response received on idle HTTP channel starting with %q", "HTTP/1.1 200 OK")
	var rec map[string]any
	if err := json.Unmarshal(errb.Bytes(), &rec); err != nil || rec["level"] != "WARN" || !strings.Contains(fmt.Sprint(rec["msg"]), "Unsolicited") {
		t.Errorf("stdlib log line: %q (%v), want one JSON record at WARN", errb.String(), err)
	}
}

// TestUnsolicitedResponseLogIsJSON: a poster server that sends a second,
// unsolicited response after each answer makes net/http's transport log
// "Unsolicited response received on idle HTTP channel"; with JSON logs that
// line, like every other on stderr, is a JSON record (the built binary).
func TestUnsolicitedResponseLogIsJSON(t *testing.T) {
	bin := pipelineBin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	var csv strings.Builder
	csv.WriteString("imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&csv, "%d,http://www.imdb.com/title/tt%07d,T%d (2000),5,Drama,%s/p/%d.jpg\n", i, i, i, base, i)
	}
	go serveWithUnsolicited(ln, csv.String())

	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("version: 1\nname: unsolicited\nscrape:\n  csv: "+base+"/movies.csv\n  parallelism: 2\n  retries: 0\n"), 0o644)
	_, _, errs := runBin(t, bin, "run", cfg, "--only", "scrape", "--workdir", filepath.Join(dir, "w"), "--log-format", "json")
	found := false
	sc := bufio.NewScanner(strings.NewReader(errs))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Errorf("stderr line is not JSON: %q", sc.Text())
			continue
		}
		if strings.Contains(fmt.Sprint(rec["msg"]), "Unsolicited response") {
			found = true
		}
	}
	if !found {
		t.Errorf("no Unsolicited response record in stderr:\n%s", lastLines(errs, 20))
	}
}

// serveWithUnsolicited answers every request on ln (the CSV, or a small
// non-image "poster") and writes a second response nobody asked for in the
// same write, so it sits in the client's buffer when the connection goes idle.
func serveWithUnsolicited(ln net.Listener, csv string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				path := strings.Fields(line + " / ")[1]
				for { // the rest of the headers
					h, err := br.ReadString('\n')
					if err != nil || h == "\r\n" {
						break
					}
				}
				body := "not a poster"
				if strings.HasSuffix(path, ".csv") {
					body = csv
				}
				extra := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra"
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s%s", len(body), body, extra)
			}
		}()
	}
}
