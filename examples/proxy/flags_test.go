package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHelpExitsZeroWithTheFlagsOnStdout(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var stdout, stderr bytes.Buffer
		code := cli(context.Background(), []string{arg}, &stdout, &stderr)
		assert.Equal(t, 0, code, arg)
		assert.Empty(t, stderr.String(), arg)
		assert.True(t, strings.HasPrefix(stdout.String(), usageLine), arg)
		for _, f := range []string{"-upstream", "-admin", "-admin-token", "-retries", "-soft-timeout"} {
			assert.Contains(t, stdout.String(), "  "+f+" ", "%s lists %s", arg, f)
		}
	}
}

func TestEachInvalidFlagIsNamedOnceWithTheUsageLine(t *testing.T) {
	up := []string{"-upstream", "http://127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-upstream is required"},
		{[]string{"-upstream", "ftp://x"}, "-upstream must be an http or https URL"},
		{append(up, "-fresh", "-5s"), "-fresh must be between 0 and"},
		{append(up, "-stale", "-1s"), "-stale must be between 0 and"},
		{append(up, "-timeout", "-1s"), "-timeout must be over 0"},
		{append(up, "-timeout", "1h"), "-timeout must be over 0 and at most 5m0s"},
		{append(up, "-soft-timeout", "2m"), "-soft-timeout must be at most"},
		{append(up, "-retries", "100000"), "-retries must be between 0 and 10"},
		{append(up, "-cache-bytes", "0"), "-cache-bytes must be between"},
		{append(up, "-fresh", "soon"), `invalid value "soon" for flag -fresh`},
		{append(up, "-nope"), "flag provided but not defined: -nope"},
		{append(up, "-admin", "0.0.0.0:9091"), "-admin: \"0.0.0.0:9091\" is not a loopback address"},
		{append(up, "-admin", "9091"), "-admin: \"9091\" is not host:port"},
		{append(up, "-admin-token", "s"), "-admin-token and -admin-public need -admin"},
		{append(up, "extra"), `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		code := cli(context.Background(), tc.args, &stdout, &stderr)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Empty(t, stdout.String())
		lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
		if assert.Len(t, lines, 2, "%v: the error once, then the usage line: %q", tc.args, stderr.String()) {
			assert.Contains(t, lines[0], tc.want, "%v", tc.args)
			assert.True(t, strings.HasPrefix(lines[0], "proxy: "), lines[0])
			assert.Equal(t, usageLine, lines[1])
		}
	}
}

func TestAdminMayListenBeyondLoopbackWhenTheOperatorSaysSo(t *testing.T) {
	_, err := parseFlags([]string{"-upstream", "http://127.0.0.1:1", "-admin", "0.0.0.0:9091", "-admin-public", "-admin-token", "t"})
	assert.NoError(t, err)
	for _, addr := range []string{"127.0.0.1:9091", "[::1]:9091", "localhost:9091"} {
		_, err := parseFlags([]string{"-upstream", "http://127.0.0.1:1", "-admin", addr})
		assert.NoError(t, err, addr)
	}
}
