//go:build !race

package accept_test

const raceBuild = false
