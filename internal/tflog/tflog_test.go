package tflog

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Lines as TensorFlow 2.18 writes them (copied from a terminal).
const (
	absBanner = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
	absInfo   = "I0000 00:00:1795288886.212622   21488 mlir_graph_optimization_pass.cc:401] MLIR V1 optimization pass is not enabled"
	absWarn   = "W0000 00:00:1795288886.212622   21488 gpu_device.cc:2344] Cannot dlopen some GPU libraries."
	absError  = "E0000 00:00:1795288886.212622   21488 cuda_driver.cc:152] failed call to cuInit: INTERNAL: CUDA error"
	absFatal  = "F0000 00:00:1795288886.212622   21488 logging.cc:62] Check failed: ok"
	tslInfo   = "2026-11-21 19:21:21.566065: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on."
	goPanic   = "panic: runtime error: index out of range [3] with length 3"
	slogLine  = `time=2026-11-21T19:21:24.444Z level=INFO msg="demo data generated"`
)

func TestDropLine(t *testing.T) {
	tests := []struct {
		line  string
		level int
		drop  bool
	}{
		{absBanner, 2, true},
		{absBanner, 0, false},
		{absInfo, 2, true},
		{absInfo, 1, true},
		{absInfo, 0, false},
		{"I1121 19:21:26.212622   21488 x.cc:1] after InitializeLog", 2, true},
		{absWarn, 2, true},
		{absWarn, 1, false},
		{absError, 2, false}, // errors always surface
		{absError, 3, false}, // absl has no level above fatal to drop E by; TF's own logger does it
		{absFatal, 2, false},
		{tslInfo, 2, false}, // TF's own logger: its level is TF_CPP_MIN_LOG_LEVEL, not the filter's
		{goPanic, 2, false},
		{slogLine, 2, false},
		{"Information", 2, false}, // an I that is not absl's prefix
		{"", 2, false},
	}
	for _, tt := range tests {
		if got := dropLine(tt.line+"\n", tt.level); got != tt.drop {
			t.Errorf("dropLine(%.40q, %d) = %v, want %v", tt.line, tt.level, got, tt.drop)
		}
	}
}

// helperEnv makes the test binary (which carries the same start-up hook as
// bin/pipeline) act as a program that writes TensorFlow-style lines to fd 2
// from C and then exits or aborts.
const helperEnv = "TFLOG_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "write":
		for _, l := range []string{absBanner, absInfo, absWarn, absError, goPanic} {
			writeRaw(l + "\n")
		}
		os.Stderr.WriteString("from go\n")
		Flush()
		os.Exit(0)
	case "abort":
		writeRaw(absInfo + "\n")
		writeRaw(absFatal + "\n")
		abort()
	}
	os.Exit(m.Run())
}

// TestFilterProcess runs the hook for real: TF_CPP_MIN_LOG_LEVEL unset (the
// hook re-executes with 2 and filters), and set to 0 (nothing filtered).
// The abort case is LOG(FATAL): the message written just before the
// process dies must still arrive.
func TestFilterProcess(t *testing.T) {
	tests := []struct {
		name, mode, level string // level "" = unset
		want, notWant     []string
	}{
		{"default", "write", "", []string{absError, goPanic, "from go"}, []string{absBanner, absInfo, absWarn}},
		{"user level 1", "write", "1", []string{absWarn, absError}, []string{absInfo}},
		{"user level 0", "write", "0", []string{absBanner, absInfo, absWarn, absError}, nil},
		{"fatal before abort", "abort", "", []string{absFatal}, []string{absInfo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(withoutVar(os.Environ(), "TF_CPP_MIN_LOG_LEVEL"), helperEnv+"="+tt.mode)
			if tt.level != "" {
				cmd.Env = append(cmd.Env, "TF_CPP_MIN_LOG_LEVEL="+tt.level)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if tt.mode == "abort" && err == nil {
				t.Fatal("abort helper exited 0")
			}
			if tt.mode == "write" && err != nil {
				t.Fatalf("helper: %v\n%s", err, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %.50q:\n%s", w, stderr.String())
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(stderr.String(), nw) {
					t.Errorf("stderr has %.50q:\n%s", nw, stderr.String())
				}
			}
		})
	}
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

// tfLine matches anything TensorFlow's two loggers write at INFO or WARNING.
var tfLine = regexp.MustCompile(`(?m)^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] |[IW]\d{4} \d\d:\d\d:\d\d\.\d+ )|absl::InitializeLog|rebuild TensorFlow`)

// TestBinaryQuiet runs bin/pipeline as a user would, without
// TF_CPP_MIN_LOG_LEVEL: `version` and a one-epoch demo run print nothing of
// TensorFlow's own; with TF_CPP_MIN_LOG_LEVEL=0 the same lines are there
// (so the check can see them).
func TestBinaryQuiet(t *testing.T) {
	bin := os.Getenv("PIPELINE_BIN")
	if bin == "" {
		t.Skip("PIPELINE_BIN not set (make test sets it to bin/pipeline)")
	}
	work := t.TempDir()
	run := []string{"run", "../../configs/demo.yaml", "--workdir", work,
		"--set", "demo.posters=120", "--set", "train.epochs=1", "--set", "evaluate.bootstrap=10"}
	tests := []struct {
		name  string
		args  []string
		level string
		loud  bool
	}{
		{"version", []string{"version"}, "", false},
		{"demo run", run, "", false},
		{"version, user asks for everything", []string{"version"}, "0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = withoutVar(os.Environ(), "TF_CPP_MIN_LOG_LEVEL")
			if tt.level != "" {
				cmd.Env = append(cmd.Env, "TF_CPP_MIN_LOG_LEVEL="+tt.level)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %v\n%s", tt.args, err, stderr.String())
			}
			found := tfLine.FindAllString(stderr.String(), -1)
			if tt.loud && len(found) == 0 {
				t.Errorf("TF_CPP_MIN_LOG_LEVEL=0: no TensorFlow line found; the check cannot see them:\n%s", stderr.String())
			}
			if !tt.loud && len(found) > 0 {
				t.Errorf("TensorFlow's own lines leaked: %q\n%s", found, stderr.String())
			}
		})
	}
}
