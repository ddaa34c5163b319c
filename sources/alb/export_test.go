package alb

// WriteScaleSpecs is writeScaleSpecs for the external test package's
// benchmarks.
var WriteScaleSpecs = writeScaleSpecs
