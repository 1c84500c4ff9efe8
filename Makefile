VENV := .venv
PY := $(VENV)/bin/python

.PHONY: proto
proto:
	rm -rf embly_build/generated.tmp && mkdir -p embly_build/generated.tmp
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m grpc_tools.protoc -I protos \
		--python_betterproto_out=embly_build/generated.tmp protos/embly/build/v1/build.proto
	rm -rf embly_build/generated && mv embly_build/generated.tmp embly_build/generated
