package pipeline_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/pipeline"
	"github.com/postergenre/postergenre/stages"
)

func TestStageErrorNamesTheStageOnce(t *testing.T) {
	for _, tc := range []struct {
		stage, err, want string
	}{
		{stages.Encode, "shard 3: disk full", "encode: shard 3: disk full"},
		{stages.Encode, "encode: shard 3: disk full", "encode: shard 3: disk full"},
		{stages.Train, "encode: not a train prefix", "train: encode: not a train prefix"},
	} {
		inner := errors.New(tc.err)
		se := &pipeline.StageError{Stage: tc.stage, Err: inner}
		if se.Error() != tc.want || !errors.Is(se, inner) {
			t.Errorf("StageError{%s, %q} = %q (unwraps: %v), want %q", tc.stage, tc.err, se.Error(), errors.Is(se, inner), tc.want)
		}
	}
}

// Setup runs under the setup lock (locks/setup.lock, shared by every
// config) before anything is planned, and its cleanup when the run ends; a
// Setup error ends the run before any stage.
func TestSetupAndCleanup(t *testing.T) {
	h := newHarness(t)
	var events []string
	opts := pipeline.Options{Setup: func(ctx context.Context) (func(), error) {
		_, err := pipeline.AcquireLock(filepath.Join(h.workdir, "locks", "setup.lock"))
		events = append(events, "setup locked="+boolText(errors.Is(err, pipeline.ErrLocked)))
		return func() { events = append(events, "cleanup") }, nil
	}}
	if _, ran, err := h.run(opts); err != nil || keys(ran) != strings.Join(stages.Order, ",") {
		t.Fatalf("run: ran %v, %v", ran, err)
	}
	if strings.Join(events, ";") != "setup locked=true;cleanup" {
		t.Errorf("events %v: want setup under the lock, then cleanup", events)
	}
	boom := errors.New("demo data: no space")
	opts.Setup = func(context.Context) (func(), error) { return nil, boom }
	if _, ran, err := h.run(opts, "train.epochs=2"); !errors.Is(err, boom) || len(ran) != 0 {
		t.Errorf("failing setup: ran %v, %v", ran, err)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// A cancelled run is recorded as cancelled, with its error, and points
// runs/latest at itself.
func TestCancelledRunIsRecorded(t *testing.T) {
	h := newHarness(t)
	cfg, err := configs.Load(h.cfgFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	build := func(c configs.Config) map[string]stages.Stage {
		m := h.build(c)
		m[stages.Encode] = cancelling{Stage: m[stages.Encode], cancel: cancel}
		return m
	}
	r, err := pipeline.NewRunner(pipeline.Options{Workdir: h.workdir, Build: build})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if rec.Status != "cancelled" || !strings.Contains(rec.Error, "canceled") {
		t.Errorf("record: status %q error %q", rec.Status, rec.Error)
	}
	var onDisk pipeline.RunRecord
	b, err := os.ReadFile(filepath.Join(h.workdir, "runs", "latest", "run.json"))
	if err != nil || json.Unmarshal(b, &onDisk) != nil || onDisk.ID != rec.ID || onDisk.Status != "cancelled" {
		t.Errorf("runs/latest/run.json: %+v, %v", onDisk, err)
	}
	if h.runs.get()[stages.Train] != 0 {
		t.Error("train ran after the run was cancelled")
	}
}

// cancelling cancels the run's context, then fails as a stage does when
// its context ends.
type cancelling struct {
	stages.Stage
	cancel context.CancelFunc
}

func (c cancelling) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	c.cancel()
	<-ctx.Done()
	return stages.Result{}, ctx.Err()
}

// --only a stage whose inputs were never produced fails naming them, and
// runs nothing.
func TestOnlyNeedsItsInputs(t *testing.T) {
	h := newHarness(t)
	_, ran, err := h.run(pipeline.Options{Only: stages.Train})
	if err == nil || len(ran) != 0 || !strings.Contains(err.Error(), stages.Encode) {
		t.Fatalf("--only train on an empty working folder: ran %v, err %v", ran, err)
	}
	if _, _, err := h.run(pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, ran, err := h.run(pipeline.Options{Only: stages.Train}, "train.epochs=2"); err != nil || keys(ran) != stages.Train {
		t.Errorf("--only train after a full run: ran %v, err %v", ran, err)
	}
}

// Every record of a run, the stages' included, reaches its log.jsonl with
// the run's id.
func TestRunLogFile(t *testing.T) {
	h := newHarness(t)
	rec, _, err := h.run(pipeline.Options{ExtraLog: pipeline.JSONLogFile})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(h.workdir, "runs", rec.ID, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line["run"] != rec.ID {
			t.Errorf("log line without the run id: %s", sc.Text())
		}
		msgs = append(msgs, line["msg"].(string))
	}
	if len(msgs) < 2 || msgs[0] != "run started" || msgs[len(msgs)-1] != "run finished" {
		t.Errorf("log messages %v: want run started … run finished", msgs)
	}
}

// Run ids order by second only (a random suffix follows): two runs started
// within one second are still listed newest first.
func TestHistoryOrdersBySecondsFraction(t *testing.T) {
	workdir := t.TempDir()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range []pipeline.RunRecord{
		{ID: "20260102T030405Z-ffffffff", Config: "c", Status: "ok", Started: t0.Add(100 * time.Millisecond)},
		{ID: "20260102T030405Z-00000000", Config: "c", Status: "ok", Started: t0.Add(700 * time.Millisecond)},
		{ID: "20260102T030404Z-99999999", Config: "c", Status: "ok", Started: t0.Add(-time.Second)},
	} {
		dir := filepath.Join(workdir, "runs", r.ID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		if err := os.WriteFile(filepath.Join(dir, "run.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := pipeline.History(workdir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID[len(r.ID)-8:])
	}
	if strings.Join(ids, ",") != "00000000,ffffffff,99999999" {
		t.Errorf("history order %v, want newest first", ids)
	}
}
