// Package classifier scores the feature vectors of package features with a
// LightGBM model (trained by training/, evaluated in Go with leaves through
// classifier/lgbm) and groups the announcements that pass a class threshold
// into alert events (Eventer): one event per (type, prefix or covering
// prefix, suspect AS), or per leaker for route leaks, with first/last seen,
// peers, sample paths, the expected origins, a confidence and the features
// that drove the score.
package classifier
