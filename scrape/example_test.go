package scrape_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/scrape/scrapeconfig"
	"github.com/postergenre/postergenre/stages"
)

// The stage reads a MovieGenre CSV, fetches each row's poster into the
// store and reports one outcome per row. Here a local server stands in for
// the CDN, reached through a url_rewrite rule.
func ExampleStage() {
	var poster bytes.Buffer
	jpeg.Encode(&poster, image.NewGray(image.Rect(0, 0, 18, 27)), nil)
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/images/M/toy-story.jpg" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(poster.Bytes())
	}))
	defer cdn.Close()

	dir, err := os.MkdirTemp("", "scrape-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	csv := "imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\r\n" +
		"114709,http://www.imdb.com/title/tt114709,Toy Story (1995),8.3,Animation|Adventure|Comedy,https://images-na.ssl-images-amazon.com/images/M/toy-story.jpg\r\n" +
		"113497,http://www.imdb.com/title/tt113497,Jumanji (1995),6.9,Action|Adventure|Family,\r\n"
	os.WriteFile(filepath.Join(dir, "MovieGenre.csv"), []byte(csv), 0o644)
	os.Mkdir(filepath.Join(dir, "out"), 0o755)

	cfg := scrapeconfig.Default()
	cfg.CSV = filepath.Join(dir, "MovieGenre.csv")
	cfg.FallbackIMDbPage = false // an empty Poster is then skipped as no_link
	cfg.URLRewrite = []scrape.Rewrite{{Pattern: `^https://images-na\.ssl-images-amazon\.com/`, Replace: cdn.URL + "/"}}
	stage := &scrape.Stage{Cfg: cfg}
	res, err := stage.Run(context.Background(), stages.Env{
		OutDir:      filepath.Join(dir, "out"),
		PosterStore: filepath.Join(dir, "posters"),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Summary["rows"], "rows:", res.Summary["outcomes"], res.Summary["reasons"])
	_, err = os.Stat(filepath.Join(dir, "posters", "114709.jpg"))
	fmt.Println("poster stored:", err == nil)
	// Output:
	// 2 rows: map[already_present:0 downloaded:1 failed:0 skipped:1] map[no_link:1]
	// poster stored: true
}
