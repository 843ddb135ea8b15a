// Package httpfallback is the fallback engine of failsoft and its net/http middleware.
package httpfallback
