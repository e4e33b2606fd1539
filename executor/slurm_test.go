package executor_test

import (
	"strings"
	"testing"

	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/executor"
)

// TestSlurmCommandLine: the sbatch command line a grid submits, from the
// config's executor section; --gres=gpu:1 when train.device asks for a GPU
// (the allocation itself cannot be shown on a machine without one).
func TestSlurmCommandLine(t *testing.T) {
	tests := []struct {
		name   string
		sets   []string
		resume bool
		want   string
	}{
		{"cpu defaults", nil, false,
			"--parsable --job-name=postergenre-paper-grid --array=0-24 --output=/w/runs/r1/slurm/%A_%a.out --chdir=/w --cpus-per-task=1 --requeue --export=ALL /w/runs/r1/slurm/cell.sh"},
		{"gpu cells, 4 at once", []string{"train.device=gpu", "executor.slurm.max_parallel=4", "executor.slurm.partition=gpu",
			"executor.slurm.account=lab", "executor.slurm.time_limit=2:00:00", "executor.slurm.cpus_per_cell=4",
			"executor.slurm.mem_per_cell=16G", "executor.slurm.sbatch_args=[--qos=long]"}, false,
			"--parsable --job-name=postergenre-paper-grid --array=0-24%4 --output=/w/runs/r1/slurm/%A_%a.out --chdir=/w --partition=gpu --account=lab --time=2:00:00 --cpus-per-task=4 --mem=16G --gres=gpu:1 --requeue --export=ALL --qos=long /w/runs/r1/slurm/cell.sh"},
		{"gpu but gres off", []string{"train.device=gpu", "executor.slurm.gres="}, false,
			"--parsable --job-name=postergenre-paper-grid --array=0-24 --output=/w/runs/r1/slurm/%A_%a.out --chdir=/w --cpus-per-task=1 --requeue --export=ALL /w/runs/r1/slurm/cell.sh"},
		{"explicit gres, resubmission", []string{"executor.slurm.gres=gpu:a100:2"}, true,
			"--parsable --job-name=postergenre-paper-grid --array=0-24 --output=/w/runs/r1/slurm/%A_%a.out --chdir=/w --cpus-per-task=1 --gres=gpu:a100:2 --requeue --export=ALL,POSTERGENRE_RESUME=1 /w/runs/r1/slurm/cell.sh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := configs.Load("../configs/paper-grid.yaml", tc.sets)
			if err != nil {
				t.Fatal(err)
			}
			ex, err := executor.New("slurm", &cfg.Config, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := &executor.Batch{Bin: "/opt/pg/bin/pipeline", File: "configs/paper-grid.yaml", Workdir: "/w", RunID: "r1", Config: cfg, Cells: cfg.Cells()}
			var idx []int
			for i := range b.Cells {
				idx = append(idx, i)
			}
			got := strings.Join(ex.(*executor.Slurm).Job(b, idx, tc.resume).Args(), " ")
			if got != tc.want {
				t.Errorf("sbatch\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCellScript(t *testing.T) {
	cfg, err := configs.Load("../configs/paper-grid.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &executor.Batch{Bin: "/opt/my pg/bin/pipeline", File: "/p/configs/paper-grid.yaml", Sets: []string{"train.epochs=1", "encode.genres=[Drama, Horror]"},
		Workdir: "/w", RunID: "r1", Config: cfg}
	got := executor.CellScript(b)
	want := `exec '/opt/my pg/bin/pipeline' run /p/configs/paper-grid.yaml --workdir /w --cell "$SLURM_ARRAY_TASK_ID" --run-id r1 --log-format json --set train.epochs=1 --set 'encode.genres=[Drama, Horror]' --executor local "${resume[@]}"`
	if !strings.Contains(got, want+"\n") || !strings.HasPrefix(got, "#!/bin/bash\n") || !strings.Contains(got, "SLURM_RESTART_COUNT") {
		t.Errorf("script:\n%s\nwant the line\n%s", got, want)
	}
}

func TestExecutorSettingsInNoFingerprint(t *testing.T) {
	local, err := configs.Load("../configs/paper-grid.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	slurm, err := configs.Load("../configs/paper-grid.yaml", []string{"executor.kind=slurm", "executor.slurm.gres=gpu:1",
		"executor.slurm.partition=p", "executor.slurm.max_parallel=3", "executor.slurm.max_requeues=5"})
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"scrape", "clean", "encode", "train", "evaluate"} {
		if local.SectionHash(stage) != slurm.SectionHash(stage) {
			t.Errorf("%s: the executor section changes the stage's config hash", stage)
		}
	}
	if _, err := executor.New("ray", &local.Config, nil); err == nil {
		t.Error("an unknown executor was accepted")
	}
	if _, err := configs.Load("../configs/paper-grid.yaml", []string{"executor.kind=ray", "executor.slurm.time_limit=2h",
		"executor.slurm.gres=gpu 1", "executor.slurm.sbatch_args=[--array=1]", "executor.slurm.cpus_per_cell=0"}); err == nil ||
		strings.Count(err.Error(), "\n") != 4 {
		t.Errorf("five problems, one per line: %v", err)
	}
}
