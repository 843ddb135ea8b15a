// Package fieldset reads a request's header section once for the checks every request
// makes: its size as sent, and a 256-bit filter of the field names it carries, with
// which a check skips the lookup of a field the request certainly does not carry.
//
// A browser's request carries eight to fifteen fields; the path of a fresh hit asks for
// about twenty names (the method-override fields, the keyed headers, the conditionals,
// Range), nearly all absent. Each lookup hashes the name (~10 ns), and the keyed headers
// were found by iterating the whole header again (~110 ns for a Firefox request); the
// filter answers most of them with a few ANDs.
package fieldset
