// Package readme holds the tests that keep the README honest: every Go code block in it is
// quoted from an example that compiles (named by the comment before the block), and the
// example programs import only failsoft's public packages, so they can be copied out of
// the repository.
package readme
