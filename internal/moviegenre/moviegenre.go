// Package moviegenre is the one home of the MovieGenre CSV format (Kaggle's
// MovieGenre.csv): its columns, and the reader every stage uses.
package moviegenre

// Columns of the MovieGenre CSV, in file order.
var Columns = []string{"imdbId", "Imdb Link", "Title", "IMDB Score", "Genre", "Poster"}
