package cli_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/internal/moviegenre"
)

// runBinWatched runs the binary like `timeout -s INT -k 8 20`: SIGINT after
// 20 s, SIGKILL 8 s later. killed says the process had to be killed (it
// ignored SIGINT); interrupted says it needed the SIGINT at all.
func runBinWatched(t *testing.T, bin string, args ...string) (code int, stdout, stderr string, interrupted, killed bool) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		interrupted = true
		cmd.Process.Signal(os.Interrupt)
		select {
		case err = <-done:
		case <-time.After(8 * time.Second):
			killed = true
			cmd.Process.Kill()
			err = <-done
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String(), interrupted, killed
}

// TestFIFOInputs: a named pipe where the program expects a file to read —
// a predict input, a file of the model, a poster in the store, the CSV —
// never hangs it (the built binary, watched like `timeout -s INT`): the
// command ends by itself with an error naming the pipe, or (a poster in
// the store) treats it as a missing poster and fetches it again.
func TestFIFOInputs(t *testing.T) {
	bin := pipelineBin(t)
	work := t.TempDir()
	demo := []string{demoConfig, "--workdir", work, "--set", "demo.posters=60", "--set", "train.epochs=1",
		"--set", "train.conv_filters=[8]", "--set", "train.dense=[8]", "--set", "encode.image.shrink_percent=15",
		"--set", "evaluate.bootstrap=20", "--set", "evaluate.plots=false", "--log-format", "json", "--quiet"}
	if code, _, errs := runBin(t, bin, append([]string{"run"}, demo...)...); code != cli.ExitOK {
		t.Fatalf("demo run: exit %d\n%s", code, lastLines(errs, 20))
	}
	model := filepath.Join(work, "runs", "latest", "model")
	posters, _ := filepath.Glob(filepath.Join(work, "posters", "*.jpg"))
	if len(posters) < 10 {
		t.Fatalf("%d posters in the store", len(posters))
	}
	mkfifo := func(path string) {
		t.Helper()
		os.Remove(path)
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	inputs := t.TempDir()
	mkfifo(filepath.Join(inputs, "a.jpg"))
	b, _ := os.ReadFile(posters[0])
	os.WriteFile(filepath.Join(inputs, "b.jpg"), b, 0o644)

	badModel := t.TempDir()
	os.CopyFS(badModel, os.DirFS(model))
	entries, _ := os.ReadDir(badModel)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".data-") || strings.HasSuffix(e.Name(), ".index") {
			mkfifo(filepath.Join(badModel, e.Name()))
		}
	}
	csvFIFO := filepath.Join(t.TempDir(), "movies.csv")
	mkfifo(csvFIFO)
	cfgFIFO := filepath.Join(t.TempDir(), "c.yaml")
	mkfifo(cfgFIFO)

	storeFIFO := posters[3]
	tests := []struct {
		name    string
		args    []string
		setup   func()
		code    int
		want    string // in stderr
		wantOut string // in stdout
	}{
		{"predict folder with a FIFO", []string{"predict", "--model", model, inputs}, nil, cli.ExitFailed, "a.jpg: not a regular file: it is a named pipe", "b.jpg"},
		{"model checkpoint is a FIFO", []string{"predict", "--model", badModel, filepath.Join(inputs, "b.jpg")}, nil, cli.ExitUsage, "not a regular file: it is a named pipe", ""},
		{"config is a FIFO", []string{"validate", cfgFIFO}, nil, cli.ExitUsage, "c.yaml: not a regular file", ""},
		{"csv is a FIFO", []string{"run", "../../configs/paper.yaml", "--workdir", t.TempDir(), "--set", "scrape.csv=" + csvFIFO, "--only", "scrape", "--log-format", "json"}, nil, cli.ExitFailed, "movies.csv: not a regular file", ""},
		{"status with a FIFO in the store", append([]string{"status"}, demo...), func() { mkfifo(storeFIFO) }, cli.ExitOK, "", "scrape"},
		{"run with a FIFO in the store", append([]string{"run"}, demo...), func() { mkfifo(storeFIFO) }, cli.ExitOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			code, out, errs, interrupted, killed := runBinWatched(t, bin, tt.args...)
			if killed || interrupted {
				t.Fatalf("did not end by itself (SIGINT needed: %v, SIGKILL needed: %v)\n%s", interrupted, killed, lastLines(errs, 10))
			}
			if code != tt.code || !strings.Contains(errs, tt.want) || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d (want %d), stderr want %q, stdout want %q:\n%s\n%s", code, tt.code, tt.want, tt.wantOut, out, lastLines(errs, 10))
			}
		})
	}
	// The run fetched the poster again over the FIFO.
	if fi, err := os.Lstat(storeFIFO); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s after the run: %v %v, want a regular file again", storeFIFO, fi.Mode(), err)
	}
}

// TestSIGINTDuringCSVDownload: a run reading a CSV that arrives slowly and
// never ends stops at SIGINT with 130 (the download is under the run's
// context), instead of reading on until the scrape timeout.
func TestSIGINTDuringCSVDownload(t *testing.T) {
	bin := pipelineBin(t)
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		io.WriteString(w, strings.Join(moviegenre.Columns, ",")+"\n")
		for r.Context().Err() == nil {
			io.WriteString(w, "1,l,T,1,G,p\n")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("version: 1\nname: drip\nscrape:\n  csv: "+srv.URL+"/drip.csv\n  timeout: 10m\n"), 0o644)
	cmd := exec.Command(bin, "run", cfg, "--only", "scrape", "--workdir", filepath.Join(dir, "w"), "--log-format", "json")
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("ended before the download: %v\n%s", err, errb.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the CSV was never requested")
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitInterrupted {
			t.Errorf("after SIGINT: %v, want exit %d\n%s", err, cli.ExitInterrupted, lastLines(errb.String(), 5))
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("SIGINT did not stop the download")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "postergenre-csv-*")); len(left) != 0 {
		t.Errorf("temporary download left behind: %v", left)
	}
}
