//go:build !race

package alertsvc

const raceEnabled = false
