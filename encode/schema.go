package encode

// Split names.
const (
	SplitTrain      = "train"
	SplitValidation = "validation"
	SplitTest       = "test"
)

// ShardRow is one encoded poster in a Parquet shard (shard-NNNNN.parquet).
// Pixels are uint8 RGB in HWC order, Height*Width*3 bytes.
type ShardRow struct {
	ImdbID       int64     `parquet:"imdb_id"`
	Title        string    `parquet:"title"`
	Year         int32     `parquet:"year"`
	Genres       []string  `parquet:"genres,list"` // every listed genre, not only the selected ones
	Label        []float32 `parquet:"label,list"`  // over Manifest.Genres, in that order
	Split        string    `parquet:"split"`
	Height       int32     `parquet:"height"`
	Width        int32     `parquet:"width"`
	Pixels       []byte    `parquet:"pixels"`
	PosterSHA256 string    `parquet:"poster_sha256"`
}

// Manifest is manifest.json, written last: its presence means the shards are complete.
type Manifest struct {
	Genres      []string                  `json:"genres"`     // label columns, in order
	Vocabulary  []string                  `json:"vocabulary"` // every genre found, stable order
	LabelMode   string                    `json:"label_mode"`
	Height      int                       `json:"height"`
	Width       int                       `json:"width"`
	Channels    int                       `json:"channels"` // 3
	Rows        int                       `json:"rows"`
	Splits      map[string]int            `json:"splits"`       // rows per split
	GenreCounts map[string]map[string]int `json:"genre_counts"` // split -> genre -> rows
	Shards      []ShardInfo               `json:"shards"`
	// SplitMethod, Fit and Filter repeat the config so a reader (predict)
	// prepares an image exactly as the shards were.
	SplitMethod string `json:"split_method"`
	Fit         string `json:"fit"`
	Filter      string `json:"filter"`
	Rejected    int    `json:"rejected"` // rows of the clean output not written (rejects.parquet)
}

// ShardInfo names one shard file and its checksum.
type ShardInfo struct {
	File   string         `json:"file"`
	Rows   int            `json:"rows"`
	SHA256 string         `json:"sha256"`
	Splits map[string]int `json:"splits"`
}

// Files the stage writes into its output folder.
const (
	ManifestFile = "manifest.json"
	VocabFile    = "vocab.json"
	RejectsFile  = "rejects.parquet" // rows dropped here (no selected genre, year range, undecodable)
)
