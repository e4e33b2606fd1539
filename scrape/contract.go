package scrape

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/postergenre/postergenre/internal/digestcache"
	"github.com/postergenre/postergenre/internal/parquetio"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/stages"
)

// What the scrape stage tells the pipeline beyond stages.Stage.
var (
	_ stages.InputIdentifier   = (*Stage)(nil)
	_ stages.OutputIdentifier  = (*Stage)(nil)
	_ stages.RetryDuer         = (*Stage)(nil)
	_ stages.RowAccounter      = (*Stage)(nil)
	_ stages.PosterStoreWriter = (*Stage)(nil)
)

// WritesPosterStore is true: two scrapes of different CSVs into one store
// at once would overwrite each other's state file and remove each other's
// temporary files, so the pipeline runs them one at a time.
func (*Stage) WritesPosterStore() bool { return true }

// InputIdentity is the sha256 of the CSV: the stage's input from outside
// the pipeline ("csv=<hex>"). It reads the CSV (a URL with the scrape
// timeout and retries) and keeps the bytes for Run, which then scrapes
// and stores exactly what was hashed, without reading it again.
func (s *Stage) InputIdentity(ctx context.Context) (string, error) {
	src, err := openCSV(ctx, s.Cfg)
	if err != nil {
		return "", err
	}
	s.csv.put(src)
	return "csv=" + src.sha256, nil
}

// OutputIdentity identifies an output by what downstream stages read: the
// CSV bytes and, per row, the sha256 of the poster bytes the store holds
// now — not the sha256 the ledger recorded, so a poster deleted or
// overwritten after the scrape changes the identity. A rerun that fetched
// nothing new keeps the same identity, so nothing downstream reruns.
func (s *Stage) OutputIdentity(dir string) (string, error) {
	d, err := s.storeDigest(dir)
	return d.id, err
}

// storeID is an output's identity with the store as it is, and how many
// of its rows' posters differ from the ledger.
type storeID struct {
	id      string
	changed int
}

// outputLedger is what an output folder adds to its identity besides the
// store's posters: its CSV's bytes and its ledger's rows. Both are
// written once, when the output is committed, so a Stage reads them once.
// The CSV is kept as the identity hash's state after its bytes (a few
// hundred bytes, not the 7 MB copy).
type outputLedger struct {
	csvHashed []byte // sha256 state, encoding.BinaryMarshaler
	rows      []ledgerRef
}

// ledgerRef is the part of a LedgerRow the identity reads. Reading only
// these columns of the ledger (parquet reads columns one by one) costs
// 40% of reading whole rows, and every cell process on a cluster pays it.
type ledgerRef struct {
	Line   int64  `parquet:"line"`
	ImdbID int64  `parquet:"imdb_id"`
	SHA256 string `parquet:"sha256"`
	Path   string `parquet:"path"`
}

func readOutputLedger(dir string) (*outputLedger, error) {
	h := sha256.New()
	if err := hashStoredCSV(h, dir); err != nil {
		return nil, fmt.Errorf("scrape: output identity: %w", err)
	}
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("scrape: output identity: %w", err)
	}
	led := &outputLedger{csvHashed: state}
	err = parquetio.ForEach(filepath.Join(dir, LedgerFile), 1024, func(rows []ledgerRef) error {
		led.rows = append(led.rows, rows...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	return led, nil
}

// storeDigest hashes the output in dir with the store's current poster
// bytes, and counts the rows whose poster no longer matches the ledger
// (missing or other bytes). Every process of a grid plans against the
// store, one per cell on a cluster: the store's digest cache spares them
// reading every poster again when none changed (Verify: read them all).
func (s *Stage) storeDigest(dir string) (storeID, error) {
	s.digestMu.Lock()
	defer s.digestMu.Unlock()
	if s.ledgers == nil {
		s.ledgers, s.stores = map[string]*outputLedger{}, map[string]*digestcache.Cache{}
	}
	led, ok := s.ledgers[dir]
	if !ok {
		var err error
		if led, err = readOutputLedger(dir); err != nil {
			return storeID{}, err
		}
		s.ledgers[dir] = led
	}
	store, err := posterStoreOf(dir)
	if err != nil {
		return storeID{}, err
	}
	digests, ok := s.stores[store]
	if !ok {
		digests = digestcache.Open(store)
		s.stores[store] = digests
	}
	// The cache is only a cache: a store this process may not write (read
	// only, or another user's) is simply read in full next time.
	defer digests.Save()
	sums := currentSums(led.rows, digests, s.Verify)
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(led.csvHashed); err != nil {
		return storeID{}, fmt.Errorf("scrape: output identity: %w", err)
	}
	var d storeID
	for i, row := range led.rows {
		if sums[i] != row.SHA256 {
			d.changed++
		}
		fmt.Fprintf(h, "%d %d %s %s\n", row.Line, row.ImdbID, sums[i], row.Path)
	}
	d.id = hex.EncodeToString(h.Sum(nil))[:16]
	return d, nil
}

// hashStoredCSV adds the output's CSV to h: the bytes of its copy, or the
// sha256 its reference recorded (the CSV it names is hashed again by
// InputIdentity on every plan, and a change reruns scrape).
func hashStoredCSV(h io.Writer, dir string) error {
	csv, err := regular.Open(filepath.Join(dir, CSVFile))
	if errors.Is(err, fs.ErrNotExist) {
		ref, rerr := readCSVRef(dir)
		if rerr != nil {
			return rerr
		}
		fmt.Fprintf(h, "csv-ref %s\n", ref.SHA256)
		return nil
	}
	if err != nil {
		return err
	}
	defer csv.Close()
	_, err = io.Copy(h, csv)
	return err
}

// posterStoreOf reads which poster store an output's ledger paths are in.
// relStore is the poster store as the summary records it: relative to the
// output folder (staging and the committed output are siblings), so a
// working folder copied, moved or mounted elsewhere checks its own store.
func relStore(outDir, store string) string {
	abs, err1 := filepath.Abs(store)
	out, err2 := filepath.Abs(outDir)
	if err1 != nil || err2 != nil {
		return store
	}
	rel, err := filepath.Rel(out, abs)
	if err != nil {
		return store
	}
	return filepath.ToSlash(rel)
}

// posterStoreOf reads which poster store an output's ledger paths are in:
// relative to the output folder (an absolute path from older outputs is
// used as it is).
func posterStoreOf(dir string) (string, error) {
	path := filepath.Join(dir, SummaryFile)
	b, err := regular.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("scrape: %w", err)
	}
	var sum struct {
		PosterStore string `json:"poster_store"`
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.PosterStore == "" {
		return "", fmt.Errorf("scrape: %s: no poster_store (%v)", path, err)
	}
	if filepath.IsAbs(sum.PosterStore) {
		return sum.PosterStore, nil
	}
	return filepath.Join(dir, filepath.FromSlash(sum.PosterStore)), nil
}

// posterSHA256 is the hex sha256 of a stored poster, or "missing" when it
// cannot be read.
// currentSums is each row's poster digest as the store holds it now (the
// ledger's own digest for a row without a poster), found by one goroutine
// per CPU: even answered from the digest cache, each poster costs a stat,
// and a node with many cores should not do 10,000 of them one by one.
func currentSums(rows []ledgerRef, digests *digestcache.Cache, verify bool) []string {
	sums := make([]string, len(rows))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(rows); i += workers {
				sums[i] = rows[i].SHA256
				if rows[i].Path != "" {
					sums[i] = posterSHA256(digests, rows[i].Path, verify)
				}
			}
		}()
	}
	wg.Wait()
	return sums
}

func posterSHA256(digests *digestcache.Cache, rel string, verify bool) string {
	sum, err := digests.SHA256(rel, verify)
	if err != nil {
		return "missing"
	}
	return sum
}

// RetriesDue reports whether the output in dir holds failures old enough to
// retry (its summary's next_retry_at has passed), or names posters the
// store no longer holds as scraped (deleted or overwritten): a rerun then
// fetches them again, and downstream stages see the change through
// OutputIdentity.
func (s *Stage) RetriesDue(dir string, now time.Time) (bool, error) {
	if d, err := s.storeDigest(dir); err != nil || d.changed > 0 {
		return err == nil, err
	}
	path := filepath.Join(dir, SummaryFile)
	b, err := regular.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("scrape: %w", err)
	}
	var sum struct {
		NextRetryAt string `json:"next_retry_at"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return false, fmt.Errorf("scrape: %s: %w", path, err)
	}
	if sum.NextRetryAt == "" {
		return false, nil
	}
	t, err := time.Parse(time.RFC3339, sum.NextRetryAt)
	if err != nil {
		return false, fmt.Errorf("scrape: %s: next_retry_at: %w", path, err)
	}
	return !now.Before(t), nil
}

// RowCountKeys names the summary entries that count rows: one outcome per
// CSV row, and the reasons of the skipped and failed ones.
func (s *Stage) RowCountKeys() []string { return []string{"outcomes", "reasons"} }
