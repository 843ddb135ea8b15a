// Package testgate holds one chosen call of a test handler until the test lets it go on,
// so that tests can pin what happens while a fetch is in flight without sleeping.
package testgate
