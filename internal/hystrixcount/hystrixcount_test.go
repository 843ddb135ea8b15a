package hystrixcount

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// Register sums the outcomes of the circuits whose names start with its prefix, and only
// theirs.
func TestRegisterCountsItsCircuitsOnly(t *testing.T) {
	prefix := fmt.Sprintf("%s@%d/", t.Name(), time.Now().UnixNano())
	counts := Register(prefix)
	require.NoError(t, hystrix.Do(prefix+"a", func() error { return nil }, nil))
	require.Error(t, hystrix.Do(prefix+"a", func() error { return errors.New("boom") }, nil))
	require.NoError(t, hystrix.Do("other-"+prefix, func() error { return nil }, nil))
	require.Eventually(t, func() bool { return counts.Get().Attempts == 2 }, 10*time.Second, time.Millisecond, "%v", counts)
	v := counts.Get()
	assert.Equal(t, Values{Attempts: 2, Errors: 1, Successes: 1}, Values{Attempts: v.Attempts, Errors: v.Errors, Successes: v.Successes}, "%v", counts)
}
