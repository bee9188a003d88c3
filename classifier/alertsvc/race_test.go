//go:build race

package alertsvc

const raceEnabled = true
