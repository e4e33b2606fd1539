package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

// plan returns stage → status (and the reason, if any) of a dry plan.
func (h *harness) plan(opts pipeline.Options) map[string]string {
	h.t.Helper()
	cfg, err := configs.Load(h.cfgFile, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	opts.Workdir, opts.Build = h.workdir, h.build
	r, err := pipeline.NewRunner(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	steps, err := r.Plan(context.Background(), cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range steps {
		out[s.Stage] = strings.TrimSpace(s.Status + " " + s.Reason)
	}
	return out
}

// saltedStage writes one more file whose content the test decides, and
// declares timing.txt volatile.
type saltedStage struct {
	*fakeStage
	salt, timing *string
}

func (s saltedStage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	res, err := s.fakeStage.Run(ctx, env)
	if err == nil {
		os.WriteFile(filepath.Join(env.OutDir, "salt.txt"), []byte(*s.salt), 0o644)
		os.WriteFile(filepath.Join(env.OutDir, "timing.txt"), []byte(*s.timing), 0o644)
	}
	return res, err
}

func (s saltedStage) VolatileFiles() []string { return []string{"timing.txt"} }

// TestReuseByContent: a stage's output is identified by its content, so a
// forced rerun that wrote the same bytes (or differs only in a volatile
// file) leaves everything downstream up to date, and one that wrote other
// bytes reruns it.
func TestReuseByContent(t *testing.T) {
	h := newHarness(t)
	salt, timing := "a", "1.0s"
	h.wrap = func(f *fakeStage) stages.Stage {
		if f.name == stages.Clean {
			return saltedStage{f, &salt, &timing}
		}
		return f
	}
	if _, _, err := h.run(pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	upToDate := "up to date"
	for _, step := range []struct {
		name         string
		change       func()
		downstream   string
		wantRunAfter string
	}{
		{"same bytes", func() {}, upToDate, ""},
		{"only a volatile file differs", func() { timing = "2.5s" }, upToDate, ""},
		// Encode reruns on the new clean output; the fake encode does not
		// read salt.txt, so it writes the same bytes again and train and
		// evaluate stay up to date: identity flows down by content.
		{"other bytes", func() { salt = "b" }, pipeline.StatusInputChanged, "encode"},
	} {
		step.change()
		if _, ran, err := h.run(pipeline.Options{Only: stages.Clean, Force: true}); err != nil || keys(ran) != "clean" {
			t.Fatalf("%s: --only clean --force ran %v, %v", step.name, ran, err)
		}
		p := h.plan(pipeline.Options{})
		for _, s := range []string{stages.Encode, stages.Train, stages.Evaluate} {
			if p[s] != step.downstream {
				t.Errorf("%s: %s is %q, want %q", step.name, s, p[s], step.downstream)
			}
		}
		if _, ran, err := h.run(pipeline.Options{}); err != nil || keys(ran) != step.wantRunAfter {
			t.Errorf("%s: next run ran %q (%v), want %q", step.name, keys(ran), err, step.wantRunAfter)
		}
	}
}

// TestDamagedOutputRebuilt: a file of a completed output truncated, or
// changed in place keeping its size and mtime, is caught by the cheap
// check (size, mtime) or only by --verify (sha256); the damaged output is
// rebuilt, not trusted, and the plan names the file.
func TestDamagedOutputRebuilt(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, file string)
		verify  bool
		caught  bool
		details string
	}{
		{"truncated", func(t *testing.T, f string) { os.Truncate(f, 3) }, false, true, "out.txt size 3, recorded"},
		{"deleted", func(t *testing.T, f string) { os.Remove(f) }, false, true, "out.txt missing"},
		{"same size and mtime, other bytes: cheap check", sameSizeOtherBytes, false, false, ""},
		{"same size and mtime, other bytes: --verify", sameSizeOtherBytes, true, true, "out.txt content changed"},
		{"touched, same bytes", func(t *testing.T, f string) { os.Chtimes(f, time.Now(), time.Now()) }, false, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			if _, _, err := h.run(pipeline.Options{}); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(h.workdir, "stages", "encode", "*", "out.txt"))
			if len(files) != 1 {
				t.Fatalf("encode outputs: %v", files)
			}
			c.damage(t, files[0])
			p := h.plan(pipeline.Options{Verify: c.verify})
			if got := strings.HasPrefix(p[stages.Encode], pipeline.StatusDamaged); got != c.caught || !strings.Contains(p[stages.Encode], c.details) {
				t.Fatalf("encode planned %q, want damaged=%v naming %q", p[stages.Encode], c.caught, c.details)
			}
			if !c.caught {
				return
			}
			_, ran, err := h.run(pipeline.Options{Verify: c.verify})
			if err != nil || keys(ran) != "encode" {
				t.Errorf("after damage: ran %q (%v), want encode only (same bytes again: train and evaluate reused)", keys(ran), err)
			}
			if b, _ := os.ReadFile(files[0]); !bytes.HasPrefix(b, []byte("encode")) {
				t.Errorf("rebuilt out.txt: %q", b)
			}
			if p := h.plan(pipeline.Options{Verify: true}); p[stages.Encode] != "up to date" {
				t.Errorf("after the rebuild encode is %q", p[stages.Encode])
			}
		})
	}
}

// sameSizeOtherBytes overwrites a file with as many other bytes and puts
// its mtime back: only a full hash sees it.
func sameSizeOtherBytes(t *testing.T, f string) {
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, bytes.Repeat([]byte("x"), int(fi.Size())), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(f, fi.ModTime(), fi.ModTime())
}
