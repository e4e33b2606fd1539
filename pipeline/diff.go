package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/postergenre/postergenre/internal/regular"
)

// ConfigChange is one resolved config value that differs between two runs.
type ConfigChange struct {
	Key string `json:"key"` // dotted, e.g. train.optimizer.learning_rate
	A   string `json:"a"`   // "" when absent
	B   string `json:"b"`
}

// DiffConfigs compares the resolved config.yaml (with every --set applied)
// of two run folders.
func DiffConfigs(runA, runB string) ([]ConfigChange, error) {
	a, err := flattenConfigFile(filepath.Join(runA, "config.yaml"))
	if err != nil {
		return nil, err
	}
	b, err := flattenConfigFile(filepath.Join(runB, "config.yaml"))
	if err != nil {
		return nil, err
	}
	return diffFlat(a, b), nil
}

// RefParams is the resolved config of a run or grid cell as dotted keys.
func RefParams(r RunRef) (map[string]string, error) {
	f, err := flattenConfigFile(filepath.Join(r.Dir, "config.yaml"))
	if err != nil {
		return nil, err
	}
	return cellParams(f, r.Cell), nil
}

// DiffRefs compares the resolved config of two runs or grid cells (a
// cell's shrink and learning rate applied).
func DiffRefs(a, b RunRef) ([]ConfigChange, error) {
	fa, err := flattenConfigFile(filepath.Join(a.Dir, "config.yaml"))
	if err != nil {
		return nil, err
	}
	fb, err := flattenConfigFile(filepath.Join(b.Dir, "config.yaml"))
	if err != nil {
		return nil, err
	}
	return diffFlat(cellParams(fa, a.Cell), cellParams(fb, b.Cell)), nil
}

// ResolveRun finds a run folder from what a person types: a run id, a
// unique prefix of one, "latest", or a path to a run folder.
func ResolveRun(workdir, ref string) (string, error) {
	if fi, err := os.Stat(ref); err == nil && fi.IsDir() && strings.ContainsRune(ref, os.PathSeparator) {
		if _, err := os.Stat(filepath.Join(ref, "config.yaml")); err == nil {
			return filepath.EvalSymlinks(ref)
		}
	}
	l := layout{root: workdir}
	if ref == "latest" {
		dir, err := filepath.EvalSymlinks(filepath.Join(l.runs(), "latest"))
		if err != nil {
			return "", fmt.Errorf("run latest: %w", err)
		}
		return dir, nil
	}
	entries, err := os.ReadDir(l.runs())
	if err != nil {
		return "", fmt.Errorf("runs of %s: %w", workdir, err)
	}
	var match []string
	for _, e := range entries {
		if e.IsDir() && e.Name() == ref {
			return l.run(ref), nil
		}
		if e.IsDir() && strings.HasPrefix(e.Name(), ref) {
			match = append(match, e.Name())
		}
	}
	switch len(match) {
	case 1:
		return l.run(match[0]), nil
	case 0:
		return "", fmt.Errorf("no run %q in %s: %w", ref, l.runs(), fs.ErrNotExist)
	}
	return "", fmt.Errorf("run %q is ambiguous: %s", ref, strings.Join(match, ", "))
}

// flattenConfigFile reads a resolved config.yaml as dotted keys → values
// (lists and maps of scalars as their YAML flow form).
func flattenConfigFile(path string) (map[string]string, error) {
	b, err := regular.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	flatten("", root, out)
	return out, nil
}

func flatten(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, x, out)
		}
		return
	}
	if v == nil {
		out[prefix] = ""
		return
	}
	if s, ok := v.(string); ok {
		out[prefix] = s
		return
	}
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		out[prefix] = fmt.Sprint(v)
		return
	}
	n.Style = yaml.FlowStyle
	b, err := yaml.Marshal(n)
	if err != nil {
		out[prefix] = fmt.Sprint(v)
		return
	}
	out[prefix] = strings.TrimSpace(string(b))
}

// diffFlat lists the keys whose values differ, sorted; "description" and
// the like that do not change results are kept: people asked for them.
func diffFlat(a, b map[string]string) []ConfigChange {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	// A demo config's CSV and rewrites point at its loopback server, whose
	// port changes every run: not a change anyone made.
	_, demoA := a["demo.posters"]
	_, demoB := b["demo.posters"]
	if demoA && demoB {
		delete(keys, "scrape.csv")
		delete(keys, "scrape.url_rewrite")
	}
	var out []ConfigChange
	for k := range keys {
		if a[k] != b[k] && !addedAtZero(a, b, k) {
			out = append(out, ConfigChange{Key: k, A: a[k], B: b[k]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// addedAtZero reports whether key k is absent on one side and at its zero
// value on the other: a field added to a section after the older record
// was written, left at its default. Such fields are left out of the
// fingerprints at zero (omitempty), so the stage did not change either.
func addedAtZero(a, b map[string]string, k string) bool {
	va, inA := a[k]
	vb, inB := b[k]
	switch {
	case !inA:
		return zeroParam(vb)
	case !inB:
		return zeroParam(va)
	}
	return false
}

// zeroParam: a flattened value that is its type's zero.
func zeroParam(v string) bool {
	switch v {
	case "", "0", "false", "[]", "{}":
		return true
	}
	return false
}
