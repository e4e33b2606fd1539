package clean

// Row is one kept movie (rows.parquet in the stage's output folder), in CSV order.
type Row struct {
	Line         int64    `parquet:"line"` // physical CSV line
	ImdbID       int64    `parquet:"imdb_id"`
	ImdbLink     string   `parquet:"imdb_link"`
	Title        string   `parquet:"title"`
	Year         int32    `parquet:"year"` // 0 when the title has none and no year range is configured
	Score        float64  `parquet:"score"`
	Genres       []string `parquet:"genres,list"` // as listed, split on "|"
	PosterURL    string   `parquet:"poster_url"`
	PosterPath   string   `parquet:"poster_path"` // relative to the poster store
	PosterSHA256 string   `parquet:"poster_sha256"`
	PosterWidth  int32    `parquet:"poster_width"`
	PosterHeight int32    `parquet:"poster_height"`
	PosterBytes  int64    `parquet:"poster_bytes"`  // file size
	PosterFormat string   `parquet:"poster_format"` // as decoded: jpeg, png, gif (whatever the file name says)
}

// Reject is one dropped row (rejects.parquet), with the reason it was dropped.
type Reject struct {
	Line   int64  `parquet:"line"`
	ImdbID int64  `parquet:"imdb_id"`
	Reason string `parquet:"reason"` // e.g. empty_Genre, no_poster, corrupt_image, duplicate_id, duplicate_id_conflict, no_year, year_out_of_range, bad_score, paper_filter_single_genre
	Detail string `parquet:"detail"`
}

// Files the stage writes into its output folder.
const (
	RowsFile    = "rows.parquet"
	RejectsFile = "rejects.parquet"
	// SharedPostersFile lists posters whose bytes serve several ids (reported, not dropped).
	SharedPostersFile = "shared_posters.json"
	SummaryFile       = "summary.json"
	// scrape.LimitsFile is also written here: the limits clean applied,
	// forwarded from its scrape input for encode.
)
