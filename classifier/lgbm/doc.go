// Package lgbm is the LightGBM adapter of the classifier stage: it loads the
// model that training/ writes and scores feature vectors with
// github.com/dmitryikh/leaves, in pure Go.
//
// A model directory holds model.txt (LightGBM text format) and model.json
// (the contract: feature names, schema version, class names, per-class
// thresholds, metrics, training data fingerprint, LightGBM version). LoadDir
// reads both and checks they agree (LoadBytes does the same from bytes, for
// a model embedded in the binary); CheckSchema then compares the model's
// feature list and schema version with the featurizer's, so a binary never
// scores with a model trained on other features.
//
// Contributions explains a score: the SHAP value of each feature for the
// raw score of a class, as LightGBM's predict(pred_contrib=True) computes
// it (path-dependent TreeSHAP over the node counts of training). It does
// not use leaves: the loader keeps its own copy of the trees for it.
//
// The loader is stricter than leaves, whose behaviour it works around:
//
//   - leaves accepts only version=v2 and v3 headers; LightGBM 4 writes v4,
//     which differs from v3 only by an optional trailing "parser:" section.
//     The loader accepts v2, v3 and v4 and gives leaves the header and trees
//     alone, under version=v3.
//   - leaves ignores is_linear=1 (linear_tree=true) and predicts wrong; the
//     loader refuses linear trees (ErrLinearTree).
//   - leaves returns 0 from PredictSingle and accepts longer vectors in
//     Predict; Model checks the vector length on every call
//     (ErrFeatureCount).
//   - leaves may panic, loop or allocate without bound on malformed trees;
//     the loader validates each tree first and refuses such text (ErrFormat).
//   - leaves averages the raw scores of random forests, LightGBM does not;
//     the loader refuses average_output models (ErrObjective).
//
// Parity with LightGBM (raw scores, probabilities, contributions) is tested
// on fixtures that training/bgpsentry_train/parity.py writes into
// testdata/model/parity.
package lgbm
