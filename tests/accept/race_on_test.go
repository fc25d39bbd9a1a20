//go:build race

package accept_test

// raceBuild: the tests run with -race, and so is sockd built.
const raceBuild = true
