package main

import (
	"testing"

	"github.com/failsoft/failsoft/internal/exampletest"
	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestQuoteScenario(t *testing.T) { exampletest.QuoteScenario(t, serve) }
