module github.com/bgpsentry/bgpsentry

go 1.26.8

require (
	github.com/dmitryikh/leaves v0.0.0-20230708180554-25d19a787328 // indirect
	github.com/dsnet/compress v0.0.1 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/osrg/gobgp/v3 v3.37.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
