// Package clean checks an organisation's contact data (normalised by
// package normalize: phone numbers to E.164, e-mail addresses, names),
// finds duplicates and builds the quality report that `dingbook quality`
// prints and an xlsx export carries. The report is data only: package
// export lays out the workbook's status column, its highlighting and the
// Quality sheet.
//
// The problem definitions are the dingbook.Problem constants in the root
// package; the generator (source/gen) injects exactly those and the tests
// check that the cleaner finds exactly what was injected.
//
// Everything streams: Analyze reads a dingbook.Directory person by person
// and never keeps Person values. It keeps a 64-bit hash per person id
// (with the person's problems, and in directory order), and per duplicate
// key (normalised mobile, e-mail, name-in-department) its hash and the
// holder's position in flat pointer-free columns; a bit table tells which
// keys may repeat, so only those keep their text and only those are
// sorted at the end. Memory is proportional to the number of keys
// (scripts/bench-clean.sh measures it). A manager who comes later in the
// stream than their reports is resolved at the end. A second pass over
// the same directory (WriteJSON, WriteText, EachPersonProblems, the
// export's status column) looks every person's problems up in the report;
// the status column, called in directory order, finds each person by
// position (one key comparison) rather than by a table probe. Hashes use
// hash/maphash with a fresh seed per report; the chance of any false
// match among a million keys is about 3·10⁻⁸.
//
// Speed: phone numbers are checked by normalize.E164's automata; people
// are normalised on all CPUs in batches and committed in directory order.
//
// Person identity: a userid is one person however often it is listed (a
// person in several departments is never their own duplicate). Imported
// rows have no userid; each row is its own person unless Dedupe merged
// them first, and reports name them by their 1-based row in the directory.
package clean
