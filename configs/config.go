// Package configs loads pipeline configs: versioned YAML, decoded strictly
// (an unknown key is an error), defaults applied in one place (Default),
// optional `extends:` of a base file, `--set path=value` overrides, and one
// Validate that reports every problem at once with file, line and path:
//
//	configs/paper.yaml:14: /train/optimizer/learning_rate: must be > 0 and <= 1, got -1
//
// The YAML files of the shipped configs live next to this code.
package configs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/postergenre/postergenre/clean/cleanconfig"
	"github.com/postergenre/postergenre/encode/encodeconfig"
	"github.com/postergenre/postergenre/evaluate/evaluateconfig"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/scrape/scrapeconfig"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train/trainconfig"
)

// CurrentVersion is the only config format version this program reads.
const CurrentVersion = 1

// Config is a whole pipeline config.
type Config struct {
	Version     int    `yaml:"version"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Extends names a base config (relative to this file) whose values this
	// file overrides field by field; lists are replaced, not merged.
	Extends string `yaml:"extends"`

	Scrape   scrapeconfig.Config   `yaml:"scrape"`
	Clean    cleanconfig.Config    `yaml:"clean"`
	Encode   encodeconfig.Config   `yaml:"encode"`
	Train    trainconfig.Config    `yaml:"train"`
	Evaluate evaluateconfig.Config `yaml:"evaluate"`

	// Demo, when set, generates synthetic posters and serves them on a
	// loopback HTTP server for the scrape stage (configs/demo.yaml).
	Demo *Demo `yaml:"demo"`

	// Grid, when set, runs encode → train → evaluate once per combination
	// and ends in a comparison table (the paper's Table 2).
	Grid *Grid `yaml:"grid"`

	// Executor is where the cells run (in this process, or on Slurm); part
	// of no stage's fingerprint.
	Executor Executor `yaml:"executor"`
}

// Grid is a sweep over resize ratio × learning rate.
type Grid struct {
	ShrinkPercent []float64 `yaml:"shrink_percent"`
	LearningRate  []float64 `yaml:"learning_rate"`
	// Reference holds the paper's published accuracy for each cell, keyed
	// "<shrink>/<lr>" (e.g. "40/0.0001": 0.505), printed beside ours.
	Reference map[string]float64 `yaml:"reference"`
}

// Demo sizes the generated demo data.
type Demo struct {
	Posters int   `yaml:"posters"`
	Seed    int64 `yaml:"seed"`
}

// Default returns every section's defaults: the one place defaults live.
func Default() Config {
	return Config{
		Version:  CurrentVersion,
		Scrape:   scrapeconfig.Default(),
		Clean:    cleanconfig.Default(),
		Encode:   encodeconfig.Default(),
		Train:    trainconfig.Default(),
		Evaluate: evaluateconfig.Default(),
		Executor: DefaultExecutor(),
	}
}

// Loaded is a config together with where each of its values came from.
type Loaded struct {
	Config
	// File is the path the config was loaded from.
	File string
	// lines maps a path (/train/epochs) to "file:line" of the value that set it last.
	lines map[string]string
	// decodeProblems are the values of the wrong type (or unknown keys)
	// found while decoding; typeBad holds their paths, which Validate then
	// leaves out (the value checked there is not the one written).
	decodeProblems []string
	typeBad        map[string]bool
}

// Error is a failed load or validation: every problem, each on its own line.
type Error struct {
	Problems []string
}

func (e *Error) Error() string { return strings.Join(e.Problems, "\n") }

// Load reads file (following extends), applies the overrides ("path=value",
// path dotted or slashed: train.optimizer.learning_rate or
// /train/optimizer/learning_rate) and validates the result. On failure the
// error is an *Error listing every problem found.
func Load(file string, overrides []string) (*Loaded, error) {
	l := &Loaded{Config: Default(), File: file, lines: map[string]string{}, typeBad: map[string]bool{}}
	if err := l.layer(file, map[string]bool{}); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, &Error{Problems: []string{err.Error()}}
	}
	// A value of the wrong type keeps the value before it (a default or the
	// base's), so the rest of the config is still checked: every problem is
	// reported at once, not the type errors alone.
	problems := l.decodeProblems
	for _, o := range overrides {
		if err := l.set(o); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if err := l.Validate(); err != nil {
		var ce *Error
		if !errors.As(err, &ce) {
			return nil, err
		}
		problems = append(problems, ce.Problems...)
	}
	if len(problems) > 0 {
		sortByLine(problems)
		return nil, &Error{Problems: problems}
	}
	return l, nil
}

var problemLineRe = regexp.MustCompile(`^(.+?):(\d+): `)

// sortByLine orders problems as a reader goes through the file: by file,
// then line; those without a line (a --set, a missing key) keep their
// order after the located ones of their file.
func sortByLine(problems []string) {
	key := func(p string) (string, int) {
		if m := problemLineRe.FindStringSubmatch(p); m != nil {
			n, _ := strconv.Atoi(m[2])
			return m[1], n
		}
		return "\xff", 0
	}
	sort.SliceStable(problems, func(i, j int) bool {
		fi, li := key(problems[i])
		fj, lj := key(problems[j])
		if fi != fj {
			return fi < fj
		}
		return li < lj
	})
}

// layer decodes one file (its base first) onto l.Config.
func (l *Loaded) layer(file string, seen map[string]bool) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if seen[abs] {
		return fmt.Errorf("%s: extends cycle", file)
	}
	seen[abs] = true
	data, err := regular.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return &Error{Problems: yamlProblem(file, err, nil)}
	}
	if root.Kind == 0 {
		return &Error{Problems: []string{file + ": empty config"}}
	}
	lines := map[string]int{}
	indexLines(&root, "", lines)

	// The base goes first so this file's values win.
	var head struct {
		Extends string `yaml:"extends"`
	}
	_ = root.Decode(&head)
	if head.Extends != "" {
		base := head.Extends
		if !filepath.IsAbs(base) {
			base = filepath.Join(filepath.Dir(file), base)
		}
		if err := l.layer(base, seen); err != nil {
			return err
		}
	}

	// Every problem is its own entry, so "N problem(s)" counts them all.
	for _, np := range nonIntegers(&root, reflect.TypeFor[Config](), "") {
		l.decodeProblems = append(l.decodeProblems, fmt.Sprintf("%s:%d: %s: %s", file, np.line, np.path, np.msg))
		l.typeBad[np.path] = true
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l.Config); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return &Error{Problems: yamlProblem(file, err, lines)}
		}
		// yaml.v3 decodes every other value before it reports type errors.
		l.decodeProblems = append(l.decodeProblems, yamlProblem(file, err, lines)...)
		for _, m := range te.Errors {
			if sm := yamlLineRe.FindStringSubmatch(m); sm != nil {
				line, _ := strconv.Atoi(sm[1])
				l.typeBad[pathAtLine(lines, line)] = true
			}
		}
	}
	for p, line := range lines {
		l.lines[p] = fmt.Sprintf("%s:%d", file, line)
	}
	// Relative data paths are relative to the file that names them.
	if _, ok := lines["/scrape/csv"]; ok {
		l.Scrape.CSV = resolvePath(filepath.Dir(file), l.Scrape.CSV)
	}
	if _, ok := lines["/train/weights"]; ok {
		l.Train.Weights = resolvePath(filepath.Dir(file), l.Train.Weights)
	}
	l.Extends = ""
	return nil
}

func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
		return p
	}
	return filepath.Join(dir, p)
}

// indexLines records the line of every mapping key and sequence item.
func indexLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := path + "/" + k.Value
			out[p] = k.Line
			indexLines(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "/" + strconv.Itoa(i)
			out[p] = c.Line
			indexLines(c, p, out)
		}
	}
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlProblem turns a yaml.v3 error into "file:line: /path: message" lines.
func yamlProblem(file string, err error, lines map[string]int) []string {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		sm := yamlLineRe.FindStringSubmatch(m)
		if sm == nil {
			out = append(out, fmt.Sprintf("%s: %s", file, strings.TrimPrefix(m, "yaml: ")))
			continue
		}
		line, _ := strconv.Atoi(sm[1])
		msg := friendlyYAML(sm[2])
		if p := pathAtLine(lines, line); p != "" {
			out = append(out, fmt.Sprintf("%s:%d: %s: %s", file, line, p, msg))
		} else {
			out = append(out, fmt.Sprintf("%s:%d: %s", file, line, msg))
		}
	}
	return out
}

var (
	unknownFieldRe = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	cannotRe       = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

func friendlyYAML(m string) string {
	if sm := unknownFieldRe.FindStringSubmatch(m); sm != nil {
		return fmt.Sprintf("unknown key %q", sm[1])
	}
	if sm := cannotRe.FindStringSubmatch(m); sm != nil {
		want := sm[3]
		switch {
		case strings.HasPrefix(want, "int") || strings.HasPrefix(want, "uint"):
			want = "an integer"
		case strings.HasPrefix(want, "float"):
			want = "a number"
		case want == "bool":
			want = "true or false"
		case want == "time.Duration":
			want = `a duration such as "30s"`
		case want == "string":
			want = "a string"
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		}
		return fmt.Sprintf("must be %s, got %s %q", want, sm[1], sm[2])
	}
	return m
}

// pathAtLine finds the deepest path whose key sits on line.
func pathAtLine(lines map[string]int, line int) string {
	best := ""
	for p, l := range lines {
		if l == line && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// nonInteger is a scalar given for an integer field that is not an integer.
type nonInteger struct {
	line      int
	path, msg string
}

// nonIntegers finds scalars that go into integer fields of t but are not
// YAML integers: yaml.v3 truncates 2.5 to 2 for an int without a word.
func nonIntegers(n *yaml.Node, t reflect.Type, path string) []nonInteger {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []nonInteger
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = append(out, nonIntegers(c, t, path)...)
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if f, ok := yamlField(t, n.Content[i].Value); ok {
				out = append(out, nonIntegers(n.Content[i+1], f.Type, path+"/"+n.Content[i].Value)...)
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, c := range n.Content {
				out = append(out, nonIntegers(c, t.Elem(), path+"/"+strconv.Itoa(i))...)
			}
		}
	case yaml.ScalarNode:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if t == reflect.TypeFor[time.Duration]() {
				return nil // "30s"; yaml.v3 decodes durations itself
			}
			if tag := n.ShortTag(); tag == "!!float" {
				out = append(out, nonInteger{n.Line, path, fmt.Sprintf("must be an integer, got %s", n.Value)})
			}
		}
	}
	return out
}

// yamlField finds the field of struct t that YAML key k decodes into,
// looking through inlined structs.
func yamlField(t reflect.Type, k string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if g, ok := yamlField(ft, k); ok {
					return g, true
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == k && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// set applies one --set override by decoding a one-key YAML document built
// from the path onto the config, strictly, like a file.
func (l *Loaded) set(kv string) error {
	eq := strings.IndexByte(kv, '=')
	if eq <= 0 {
		return fmt.Errorf("--set %s: want path=value, e.g. train.epochs=5", kv)
	}
	rawPath, value := kv[:eq], kv[eq+1:]
	parts := strings.FieldsFunc(rawPath, func(r rune) bool { return r == '.' || r == '/' })
	if len(parts) == 0 {
		return fmt.Errorf("--set %s: empty path", kv)
	}
	// Parse the value as YAML so numbers, booleans and [lists] keep their type.
	var val yaml.Node
	if err := yaml.Unmarshal([]byte(value), &val); err != nil || len(val.Content) == 0 {
		val = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: value, Tag: "!!str"}}}
	}
	node := val.Content[0]
	for i := len(parts) - 1; i >= 0; i-- {
		node = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: parts[i], Line: 1}, node,
		}}
	}
	path := "/" + strings.Join(parts, "/")
	if path == "/extends" {
		return fmt.Errorf("--set %s: extends cannot be set from the command line: write a config file that extends the base instead", kv)
	}
	if nps := nonIntegers(node, reflect.TypeFor[Config](), ""); len(nps) > 0 {
		l.typeBad[path] = true
		return fmt.Errorf("--set %s: %s: %s", kv, nps[0].path, nps[0].msg)
	}
	doc, err := yaml.Marshal(node)
	if err != nil {
		return fmt.Errorf("--set %s: %v", kv, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&l.Config); err != nil {
		msg := err.Error()
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0]
		}
		if sm := yamlLineRe.FindStringSubmatch(msg); sm != nil {
			msg = sm[2]
		}
		l.typeBad[path] = true
		return fmt.Errorf("--set %s: %s: %s", kv, path, friendlyYAML(msg))
	}
	// Problems found later by Validate name the override, value included.
	l.lines[path] = "--set " + kv
	if path == "/scrape/csv" {
		wd, _ := os.Getwd()
		l.Scrape.CSV = resolvePath(wd, l.Scrape.CSV)
	}
	return nil
}

// Validate checks the whole config and returns an *Error with every problem,
// each prefixed with the file and line of the value it concerns.
func (l *Loaded) Validate() error {
	var ps stages.Problems
	if l.Version != CurrentVersion {
		ps.Addf("/version", "must be %d (this program reads config version %d), got %d", CurrentVersion, CurrentVersion, l.Version)
	}
	if l.Name == "" {
		ps.Addf("/name", "required: a short name for runs of this config")
	} else if !regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`).MatchString(l.Name) {
		ps.Addf("/name", "must be lowercase letters, digits, '.', '_' or '-', got %q", l.Name)
	}
	l.Scrape.Validate("/scrape", &ps)
	if l.Demo != nil {
		// The demo sets the CSV to its own loopback server at run time.
		kept := ps[:0]
		for _, p := range ps {
			if p.Path != "/scrape/csv" {
				kept = append(kept, p)
			}
		}
		ps = kept
	}
	l.Clean.Validate("/clean", &ps)
	l.Encode.Validate("/encode", &ps)
	l.Train.Validate("/train", &ps)
	l.Evaluate.Validate("/evaluate", &ps)
	if d := l.Demo; d != nil && (d.Posters < 20 || d.Posters > 100000) {
		ps.Addf("/demo/posters", "must be in 20..100000, got %d", d.Posters)
	}
	if l.Grid != nil {
		l.Grid.validate(&ps)
	}
	l.Executor.Validate("/executor", &ps)
	kept := ps[:0]
	for _, p := range ps {
		if !l.typeBad[p.Path] {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &Error{Problems: l.locate(kept)}
}

// validate appends every problem of a grid.
func (g *Grid) validate(ps *stages.Problems) {
	if len(g.ShrinkPercent) == 0 && len(g.LearningRate) == 0 {
		ps.Addf("/grid", "must list shrink_percent and/or learning_rate")
	}
	for i, s := range g.ShrinkPercent {
		if s <= 0 || s > 400 {
			ps.Addf("/grid/shrink_percent/"+stages.Index(i), "must be in (0, 400], got %g", s)
		}
	}
	for i, lr := range g.LearningRate {
		if lr <= 0 || lr > 1 {
			ps.Addf("/grid/learning_rate/"+stages.Index(i), "must be > 0 and <= 1, got %g", lr)
		}
	}
}

// locate prefixes each problem with the file and line of the value it
// concerns and sorts them as a reader goes through the file.
func (l *Loaded) locate(ps stages.Problems) []string {
	type located struct {
		file string
		line int
		text string
	}
	locs := make([]located, len(ps))
	for i, p := range ps {
		w := l.where(p.Path)
		loc := located{file: w, text: w + p.String()}
		if c := strings.LastIndexByte(strings.TrimSuffix(w, ": "), ':'); c > 0 {
			loc.file = w[:c]
			loc.line, _ = strconv.Atoi(strings.TrimSuffix(w[c+1:], ": "))
		}
		locs[i] = loc
	}
	sort.SliceStable(locs, func(i, j int) bool {
		if locs[i].file != locs[j].file {
			return locs[i].file < locs[j].file
		}
		return locs[i].line < locs[j].line
	})
	out := make([]string, len(locs))
	for i, l := range locs {
		out[i] = l.text
	}
	return out
}

// where returns "file:line: " for the value at path or its nearest parent.
func (l *Loaded) where(path string) string {
	for p := path; p != ""; p = p[:strings.LastIndexByte(p, '/')] {
		if w, ok := l.lines[p]; ok {
			return w + ": "
		}
	}
	return l.File + ": "
}

// Section returns a stage's config section by stage name.
func (c *Config) Section(stage string) any {
	switch stage {
	case stages.Scrape:
		return c.Scrape
	case stages.Clean:
		return c.Clean
	case stages.Encode:
		return c.Encode
	case stages.Train:
		return c.Train
	case stages.Evaluate:
		return c.Evaluate
	}
	return nil
}

// SectionHash is the sha256 of a section's canonical JSON: part of a stage's
// fingerprint. A section that is a stages.ConfigIdentifier (scrape) is
// hashed by its Identity: only the fields that decide the stage's output.
func (c *Config) SectionHash(stage string) string {
	sec := c.Section(stage)
	if id, ok := sec.(stages.ConfigIdentifier); ok {
		sec = id.Identity()
	}
	b, _ := json.Marshal(sec)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// YAML renders the resolved config (defaults, extends and overrides applied).
func (c *Config) YAML() []byte {
	b, _ := yaml.Marshal(c)
	return b
}

// Cells expands a grid config into one config per combination, named
// <name>-s<shrink>-lr<lr>, in a stable order. A config without a grid yields itself.
func (c Config) Cells() []Cell {
	if c.Grid == nil {
		return []Cell{{Key: "", Config: c}}
	}
	shrinks := c.Grid.ShrinkPercent
	if len(shrinks) == 0 {
		shrinks = []float64{c.Encode.Image.ShrinkPercent}
	}
	lrs := c.Grid.LearningRate
	if len(lrs) == 0 {
		lrs = []float64{c.Train.Optimizer.LearningRate}
	}
	var cells []Cell
	for _, s := range shrinks {
		for _, lr := range lrs {
			cc := c
			cc.Grid = nil
			cc.Encode.Image.ShrinkPercent = s
			cc.Encode.Image.Width, cc.Encode.Image.Height = 0, 0
			cc.Train.Optimizer.LearningRate = lr
			key := GridKey(s, lr)
			cc.Name = c.Name + "-" + strings.NewReplacer("/", "-lr").Replace("s"+key)
			cells = append(cells, Cell{Key: key, Shrink: s, LR: lr, Config: cc})
		}
	}
	return cells
}

// Cell is one combination of a grid.
type Cell struct {
	Key    string // "<shrink>/<lr>", "" when not a grid
	Shrink float64
	LR     float64
	Config Config
}

// GridKey formats a grid cell key as used in Grid.Reference: "40/0.0001".
func GridKey(shrink, lr float64) string {
	return strconv.FormatFloat(shrink, 'g', -1, 64) + "/" + strconv.FormatFloat(lr, 'g', -1, 64)
}
