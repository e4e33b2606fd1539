// Package browsertest drives a headless Chromium for tests: finding (or
// installing) it, opening a page at a given window width, and the layout
// checks every page of the project must pass on a phone.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Find returns a Chromium binary: $CHROMIUM, else Debian's chromium
// package. When none is installed and the test runs as root, it installs
// one with the project's own `make chromium`; otherwise it skips, saying
// how to install one, except under CI=true, where a missing browser fails.
func Find(t testing.TB) string {
	t.Helper()
	if p := lookup(); p != "" {
		return p
	}
	if os.Geteuid() == 0 {
		if root, err := repoRoot(); err == nil {
			out, err := exec.Command("make", "-C", root, "chromium").CombinedOutput()
			if p := lookup(); err == nil && p != "" {
				return p
			}
			t.Logf("make chromium: %v\n%s", err, out)
		}
	}
	msg := "no Chromium (looked for $CHROMIUM, chromium, chromium-browser, google-chrome) and could not install one: `make chromium` (as root) installs Debian's package"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func lookup() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// repoRoot is the folder holding go.mod, from the test's working folder up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working folder")
		}
		dir = parent
	}
}

// Open starts a headless Chromium with a window width×height (CSS pixels)
// and returns its context, cancelled at the test's end.
func Open(t testing.TB, width, height int) context.Context {
	t.Helper()
	bin := Find(t)
	// The profile lives outside t.TempDir: the browser may still write
	// into it for a moment after the contexts are cancelled.
	profile, err := os.MkdirTemp("", "browsertest-profile-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "could not unmarshal event") {
			t.Logf("chromedp: %s", msg)
		}
	}))
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return ctx
}

// Layout is what a page looks like in the browser.
type Layout struct {
	// ScrollWidth is document.scrollingElement.scrollWidth: wider than the
	// window means the page scrolls sideways.
	ScrollWidth int
	// Overflowing names up to 5 elements whose right edge passes the
	// window (outside boxes that scroll on their own).
	Overflowing []string
	// MinFont is the smallest computed font size of any visible text, px.
	MinFont float64
}

// layoutJS measures a loaded page.
const layoutJS = `(() => {
  const w = document.documentElement.clientWidth;
  const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o === "auto" || o === "scroll" || o === "hidden") return true; } return false; };
  const over = [];
  let minFont = 1e9;
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > w + 0.5 && !scrolls(el) && over.length < 5) over.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && el.className.baseVal === undefined ? "." + String(el.className).split(" ").join(".") : ""));
    const hasText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "");
    if (!hasText || scrolls(el)) continue;
    let size = parseFloat(getComputedStyle(el).fontSize);
    const svg = el.ownerSVGElement;
    if (svg && svg.viewBox && svg.viewBox.baseVal && svg.viewBox.baseVal.width) size *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    minFont = Math.min(minFont, size);
  }
  return {ScrollWidth: document.scrollingElement.scrollWidth, Overflowing: over, MinFont: minFont};
})()`

// Measure loads url in a viewport width CSS pixels wide (emulated: a
// browser window cannot be narrower than about 500 px) and measures its
// layout; with shot != "" it also saves a full-page screenshot there.
func Measure(t testing.TB, ctx context.Context, width int, url, shot string) Layout {
	t.Helper()
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(int64(width), 900), chromedp.Navigate(url), chromedp.WaitReady("body", chromedp.ByQuery)); err != nil {
		t.Fatalf("browser: %s: %v", url, err)
	}
	return MeasureNow(t, ctx, shot)
}

// MeasureNow measures the page as it is now (after the test acted on it).
func MeasureNow(t testing.TB, ctx context.Context, shot string) Layout {
	t.Helper()
	var l Layout
	if err := chromedp.Run(ctx, chromedp.Evaluate(layoutJS, &l)); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if shot != "" {
		var png []byte
		if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", shot)
	}
	return l
}

// Count evaluates document.querySelectorAll(selector).length.
func Count(t testing.TB, ctx context.Context, selector string) int {
	t.Helper()
	var n int
	if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf("document.querySelectorAll(%q).length", selector), &n)); err != nil {
		t.Fatal(err)
	}
	return n
}
