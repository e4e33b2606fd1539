package scrape_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
)

// TestCSVURLStallFails: a CSV server that never answers fails
// InputIdentity within the scrape timeout and its retries. Before, the CSV
// was fetched with no timeout and a cron run hung forever holding the
// lock; the outer context here only keeps the test from hanging.
func TestCSVURLStallFails(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.HasSuffix(r.URL.Path, "/drip.csv") { // headers, then nothing
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(strings.Join(moviegenre.Columns, ",")))
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	for _, path := range []string{"/stall.csv", "/drip.csv"} {
		t.Run(path, func(t *testing.T) {
			hits.Store(0)
			cfg := testConfig(srv.URL+path, srv.URL)
			cfg.Timeout = 200 * time.Millisecond
			cfg.Retries = 1
			guard, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := (&scrape.Stage{Cfg: cfg}).InputIdentity(guard)
			if err == nil || guard.Err() != nil {
				t.Fatalf("InputIdentity: %v (outer context: %v); want a timeout error of its own", err, guard.Err())
			}
			if n := hits.Load(); n != 2 {
				t.Errorf("%d requests, want 2 (1 retry)", n)
			}
			t.Log(err)
		})
	}
}

// TestCSVURLFetchedOnce: the CSV is fetched once per run, and the bytes
// stored in the output are the ones the fingerprint hashed, even when the
// server's CSV changes between requests.
func TestCSVURLFetchedOnce(t *testing.T) {
	cdn := newFakeCDN(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		// Every request gets another version: a different poster for row 2.
		lines := []string{csvRow(1, "/p/1/ok.jpg"), csvRow(2, fmt.Sprintf("/p/%d/ok.jpg", 10+n))}
		fmt.Fprint(w, strings.Join(append([]string{strings.Join(moviegenre.Columns, ",")}, lines...), "\r\n")+"\r\n")
	}))
	defer srv.Close()
	cfg := testConfig(srv.URL+"/movies.csv", cdn.URL)
	st := &scrape.Stage{Cfg: cfg}
	id, err := st.InputIdentity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := newDirs(t, "")
	res, err := st.Run(context.Background(), envOf(d))
	if err != nil {
		t.Fatal(err)
	}
	stored := mustRead(t, filepath.Join(d.out, scrape.CSVFile))
	sum := sha256.Sum256(stored)
	if got := "csv=" + hex.EncodeToString(sum[:]); got != id {
		t.Errorf("stored CSV is %s, the fingerprint names %s", got, id)
	}
	if res.Summary["csv_sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("summary csv_sha256 %v, stored %x", res.Summary["csv_sha256"], sum)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the CSV was fetched %d times in one run, want 1", n)
	}
}

func envOf(d runDirs) stages.Env { return stages.Env{OutDir: d.out, PosterStore: d.store} }
