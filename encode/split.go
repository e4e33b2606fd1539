package encode

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strconv"

	"github.com/postergenre/postergenre/encode/encodeconfig"
)

// SplitKey is what the split functions need to know of a row.
type SplitKey struct {
	ImdbID int64
	Year   int32
}

// PaperSplits assigns splits as the paper's code does, over exactly the rows
// given (the selected subset, every one with a poster): test when
// imdbId % 7 == 0; otherwise, numbering the rows of each year 1, 2, 3, … in
// ascending id order (test rows counted too), validation when the number is
// a multiple of 6; train for the rest. The result is indexed like keys and
// does not depend on their order (equal ids are numbered in input order, and
// share the same test/non-test fate).
func PaperSplits(keys []SplitKey) []string {
	out := make([]string, len(keys))
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		if ka.Year != kb.Year {
			return ka.Year < kb.Year
		}
		return ka.ImdbID < kb.ImdbID
	})
	n := 0
	for j, i := range idx {
		if j == 0 || keys[idx[j-1]].Year != keys[i].Year {
			n = 0
		}
		n++
		switch {
		case keys[i].ImdbID%7 == 0:
			out[i] = SplitTest
		case n%6 == 0:
			out[i] = SplitValidation
		default:
			out[i] = SplitTrain
		}
	}
	return out
}

// HashSplit assigns one id to a split from a stable hash (sha256 of
// salt + ":" + id, its first 53 bits) mapped to [0, 1) and cut at the
// configured fractions. It depends on nothing but the id, the salt and the
// fractions. (FNV-1a was tried first: its high bits barely depend on the
// last digits, so consecutive ids landed in the same split.)
func HashSplit(id int64, s Split) string {
	sum := sha256.Sum256([]byte(s.Salt + ":" + strconv.FormatInt(id, 10)))
	u := float64(binary.BigEndian.Uint64(sum[:8])>>11) / float64(uint64(1)<<53)
	switch {
	case u < s.Train:
		return SplitTrain
	case u < s.Train+s.Validation:
		return SplitValidation
	default:
		return SplitTest
	}
}

// EraSplit puts a movie of s.TestFrom or later in the test split and
// hashes an earlier one (HashSplit) into train and validation, in the
// ratio s.Train to s.Validation: a model chosen on validation never sees
// the test years.
func EraSplit(k SplitKey, s Split) string {
	if k.Year >= s.TestFrom {
		return SplitTest
	}
	tv := s.Train + s.Validation
	if HashSplit(k.ImdbID, Split{Method: "hash", Train: s.Train / tv, Salt: s.Salt}) == SplitTrain {
		return SplitTrain
	}
	return SplitValidation
}

// Label builds the label vector over genres from a row's listed genres:
// mode encodeconfig.LabelMulti is multi-hot; LabelFirst is one-hot of the
// first listed genre that is among genres. ok is false when none of the row's genres is selected.
func Label(rowGenres, genres []string, mode string) (label []float32, ok bool) {
	label = make([]float32, len(genres))
	pos := make(map[string]int, len(genres))
	for i, g := range genres {
		pos[g] = i
	}
	for _, g := range rowGenres {
		i, sel := pos[g]
		if !sel {
			continue
		}
		label[i] = 1
		ok = true
		if mode == encodeconfig.LabelFirst {
			return label, true
		}
	}
	return label, ok
}

// Vocabulary lists every genre of rows in a stable order: descending count,
// then name. counts has the number of rows listing each genre.
func Vocabulary(rowGenres [][]string) (vocab []string, counts map[string]int) {
	counts = map[string]int{}
	for _, gs := range rowGenres {
		seen := map[string]bool{}
		for _, g := range gs {
			if !seen[g] {
				counts[g]++
				seen[g] = true
			}
		}
	}
	for g := range counts {
		vocab = append(vocab, g)
	}
	sort.Slice(vocab, func(i, j int) bool {
		if counts[vocab[i]] != counts[vocab[j]] {
			return counts[vocab[i]] > counts[vocab[j]]
		}
		return vocab[i] < vocab[j]
	})
	return vocab, counts
}
