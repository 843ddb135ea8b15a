// Package hystrixcount counts what hystrix-go's metrics record for chosen circuits (the
// outcomes their breakers saw), for tests that check how a call was counted:
//
//	counts := hystrixcount.Register(name + "#") // before the circuit is created
//	... run calls ...
//	v := counts.Get() // hystrix records asynchronously: poll until v.Attempts is reached
package hystrixcount
