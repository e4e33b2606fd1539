package mirror_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postergenre/postergenre/scrape/mirror"
)

// fixture writes a tiny CSV and a posters folder of fake (non-image) files:
// the mirror only moves bytes.
func fixture(t *testing.T) (csvPath, posters string) {
	t.Helper()
	dir := t.TempDir()
	posters = filepath.Join(dir, "posters")
	os.Mkdir(posters, 0o755)
	for _, id := range []string{"114709", "113497", "5"} {
		os.WriteFile(filepath.Join(posters, id+".jpg"), []byte("poster "+id), 0o644)
	}
	csv := "imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\r\n" +
		"114709,http://www.imdb.com/title/tt114709,Toy Story (1995),8.3,Animation,\"https://images-na.ssl-images-amazon.com/images/M/toy,0,182.jpg\"\r\n" +
		"4,http://www.imdb.com/title/tt4,Shared without file,5,Drama,https://images-na.ssl-images-amazon.com/images/M/shared.jpg\r\n" +
		"5,http://www.imdb.com/title/tt5,Shared with file,5,Drama,https://images-na.ssl-images-amazon.com/images/M/shared.jpg\r\n" +
		"6,http://www.imdb.com/title/tt6,No file,5,Drama,https://images-na.ssl-images-amazon.com/images/M/nofile.jpg\r\n" +
		"113497,http://www.imdb.com/title/tt113497,Jumanji (1995),6.9,Action,\r\n"
	csvPath = filepath.Join(dir, "MovieGenre.csv")
	os.WriteFile(csvPath, []byte(csv), 0o644)
	return csvPath, posters
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMirrorRoutes(t *testing.T) {
	csv, posters := fixture(t)
	m, err := mirror.New(mirror.Options{CSV: csv, PostersDir: posters})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/images/M/toy,0,182.jpg", 200, "poster 114709"},
		{"/images/M/shared.jpg", 200, "poster 5"},
		{"/images/M/nofile.jpg", 404, ""},
		{"/images/M/unknown.jpg", 404, ""},
		{"/title/tt0114709", 200, `<meta property="og:image" content="` + srv.URL + `/poster/114709.jpg">`},
		{"/title/tt0113497", 200, "/poster/113497.jpg"},
		{"/title/tt0000006", 404, ""},
		{"/poster/113497.jpg", 200, "poster 113497"},
		{"/poster/6.jpg", 404, ""},
		{"/robots.txt", 200, "Allow: /"},
	}
	for _, tt := range tests {
		status, body := get(t, srv.URL+tt.path)
		if status != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("GET %s: %d %q, want %d containing %q", tt.path, status, body, tt.status, tt.body)
		}
	}
	if st := m.Stats(); st.Requests != int64(len(tests)) || st.Posters != 3 || st.Pages != 2 || st.NotFound != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestMirrorFaultsAreTransientAndReproducible(t *testing.T) {
	csv, posters := fixture(t)
	pattern := func(seed uint64) string {
		m, err := mirror.New(mirror.Options{CSV: csv, PostersDir: posters, FailRate: 0.5, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(m)
		defer srv.Close()
		var sb strings.Builder
		for i := range 40 {
			path := fmt.Sprintf("/poster/%d.jpg", 5)
			if i%2 == 0 {
				path = fmt.Sprintf("/title/tt%07d", 100+i)
			}
			first, _ := get(t, srv.URL+path)
			second, _ := get(t, srv.URL+path)
			if second == http.StatusServiceUnavailable {
				t.Fatalf("%s: failed twice", path)
			}
			fmt.Fprintf(&sb, "%d,", first)
		}
		return sb.String()
	}
	a, b := pattern(7), pattern(7)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "503") {
		t.Errorf("no fault at rate 0.5: %s", a)
	}
	if c := pattern(8); c == a {
		t.Errorf("another seed gave the same faults: %s", c)
	}
}

func TestMirrorStallRespectsClient(t *testing.T) {
	csv, posters := fixture(t)
	m, err := mirror.New(mirror.Options{CSV: csv, PostersDir: posters, StallRate: 1, StallFor: time.Minute, Latency: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	c := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	if _, err := c.Get(srv.URL + "/poster/5.jpg"); err == nil {
		t.Fatal("a stall answered within the client timeout")
	}
	resp, err := c.Get(srv.URL + "/poster/5.jpg") // the retry goes through
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("retry after a stall: %v", err)
	}
	resp.Body.Close()
	if time.Since(start) > 5*time.Second {
		t.Error("the stall outlived the client")
	}
	if st := m.Stats(); st.Stalls != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestServe(t *testing.T) {
	csv, posters := fixture(t)
	m, err := mirror.New(mirror.Options{CSV: csv, PostersDir: posters})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	base := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- mirror.ListenAndServe(ctx, "127.0.0.1:0", m, func(u string) { base <- u }) }()
	u := <-base
	if status, body := get(t, u+"/poster/5.jpg"); status != 200 || body != "poster 5" {
		t.Errorf("GET: %d %q", status, body)
	}
	if rw := mirror.Rewrites(u); len(rw) != 2 || rw[0].Replace != u+"/" {
		t.Errorf("rewrites %+v", rw)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
}
