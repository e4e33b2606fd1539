package slurm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Accounting returns what Slurm's accounting recorded for the tasks of
// array job id, one entry per finished attempt (a requeued task has
// several), through sacct. A cluster without a slurmdbd (sacct: "accounting
// storage is disabled") is read from its job-completion log instead
// (JobCompType=jobcomp/filetxt, as scripts/slurm-local.sh sets up): sacct
// cannot show array tasks from that log.
func (c *Client) Accounting(ctx context.Context, id string) ([]Task, error) {
	out, err := c.run(ctx, "sacct", "-j", id, "-X", "-P", "-n", "--format=JobID,State,NodeList,Submit,Start,End")
	if err == nil {
		return ParseSacct(out)
	}
	if !strings.Contains(err.Error(), "accounting storage is disabled") {
		return nil, err
	}
	conf, cerr := c.run(ctx, "scontrol", "show", "config")
	if cerr != nil {
		return nil, fmt.Errorf("%w; and %w", err, cerr)
	}
	loc := configValue(conf, "JobCompLoc")
	if configValue(conf, "JobCompType") != "jobcomp/filetxt" || loc == "" {
		return nil, fmt.Errorf("%w (and no jobcomp/filetxt log to read instead)", err)
	}
	log, ferr := os.ReadFile(loc)
	if ferr != nil {
		return nil, fmt.Errorf("job completion log: %w", ferr)
	}
	return ParseJobComp(log, id), nil
}

// ParseSacct reads `sacct -X -P -n --format=JobID,State,NodeList,Submit,Start,End`.
func ParseSacct(out []byte) ([]Task, error) {
	var tasks []Task
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), "|")
		if len(f) < 6 {
			continue
		}
		job, idx, ok := strings.Cut(f[0], "_")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			continue // a pending range "12_[3-5]"
		}
		state, _, _ := strings.Cut(f[1], " ") // "CANCELLED by 0"
		tasks = append(tasks, Task{JobID: job, Index: i, State: state, Node: f[2],
			Submit: slurmTime(f[3]), Start: slurmTime(f[4]), End: slurmTime(f[5])})
	}
	return tasks, sc.Err()
}

// ParseJobComp reads the entries of array job id from a jobcomp/filetxt
// log (lines of Key=Value pairs).
func ParseJobComp(log []byte, id string) []Task {
	var tasks []Task
	for _, line := range strings.Split(string(log), "\n") {
		kv := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = v
			}
		}
		if kv["ArrayJobId"] != id {
			continue
		}
		i, err := strconv.Atoi(kv["ArrayTaskId"])
		if err != nil {
			continue
		}
		tasks = append(tasks, Task{JobID: id, Index: i, State: kv["JobState"], Node: kv["NodeList"],
			Submit: slurmTime(kv["SubmitTime"]), Start: slurmTime(kv["StartTime"]), End: slurmTime(kv["EndTime"])})
	}
	return tasks
}

// configValue reads "Key = value" from `scontrol show config`.
func configValue(conf []byte, key string) string {
	for _, line := range strings.Split(string(conf), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
