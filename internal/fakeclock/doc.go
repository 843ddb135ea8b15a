// Package fakeclock is the hand-advanced clock the module's tests inject wherever a
// Now func() time.Time is accepted, so that no test sleeps to let time pass.
package fakeclock
