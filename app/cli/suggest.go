package cli

import (
	"reflect"
	"strings"
	"time"

	"github.com/postergenre/postergenre/configs"
)

// suggest returns the candidate closest to s when it is close enough to be
// a typo (edit distance at most 2, or a prefix), "" otherwise.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" || len(s) < 3 {
		return best
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, s) {
			return c
		}
	}
	return ""
}

// didYouMean is " (did you mean X?)" or "".
func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return " (did you mean " + c + "?)"
	}
	return ""
}

// editDistance is the Levenshtein distance.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// configKeys lists every settable path of the config type (train.epochs,
// train.optimizer.learning_rate, …), read from its yaml tags so the list
// can never drift from the type. Maps and lists are leaves.
func configKeys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			path := prefix + name
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) {
				walk(ft, path+".")
				continue
			}
			out = append(out, path)
		}
	}
	walk(reflect.TypeOf(configs.Config{}), "")
	return out
}

// checkSetKeys reports the first --set whose path is not a config key, with
// the nearest key as a suggestion. Values are checked later by the loader.
func checkSetKeys(sets []string) error {
	keys := configKeys()
	for _, kv := range sets {
		path, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue // the loader says "want path=value"
		}
		path = strings.Trim(strings.ReplaceAll(path, "/", "."), ".")
		known := false
		for _, k := range keys {
			if path == k || strings.HasPrefix(path, k+".") { // inside a map (grid.reference.40/0.001)
				known = true
				break
			}
		}
		if !known {
			return usageErrorf("--set %s: no config key %q%s", kv, path, didYouMean(path, keys))
		}
	}
	return nil
}
