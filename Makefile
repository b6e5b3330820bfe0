# Faultline: the documented entry points. `make run` and `make test` set up everything on a fresh machine.
SHELL := /bin/bash
VENV := litellm/.venv
PY := $(VENV)/bin/python
MVN := mvn -B
JAR := target/quarkus-app/quarkus-run.jar
CP_FILE := target/test-classpath.txt

.PHONY: run test eval bench faults fuzz native-sources native image venv build clean train-injection

## run: build, start PostgreSQL (embedded unless QUARKUS_DATASOURCE_JDBC_URL is set), the provider simulator,
## Faultline and a LiteLLM proxy with the plugin; send a demo workload with injected failures; print what was caught.
run: venv build
	java -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
		-cp "target/test-classes:$$(cat $(CP_FILE))" io.faultline.stack.DevStack \
		--jar $(JAR) --venv $(VENV) --litellm-dir litellm

## test: unit, API and end-to-end tests (real PostgreSQL, real LiteLLM), then the plugin's own tests. The plugin's
## modules that need the real Faultline or the simulator run inside `verify` (PluginAgainstFaultlineIT), not here.
test: venv
	$(MVN) verify -Dfaultline.venv=$(abspath $(VENV))
	cd litellm && FAULTLINE_PROXY_E2E=1 .venv/bin/python -m pytest -v tests \
		--ignore=tests/test_against_faultline.py --ignore=tests/test_simulator_with_litellm.py

## eval: precision, recall and F1 of the content detectors on the labeled sets of ../shared/eval -> eval/RESULTS.md
eval:
	rm -rf target/eval
	$(MVN) test -Dtest='*EvalTest' -Dsurefire.failIfNoSpecifiedTests=false
	@mkdir -p eval
	@{ echo "# Content detectors: measured on ../shared/eval"; echo; \
	  echo "Written by \`make eval\` on $$(date -u +%Y-%m-%d) ($$(nproc) cores, $$(java -version 2>&1 | sed -n 1p))."; \
	  echo "Each set is split into a development part and a held-out part that was not looked at while the rules"; \
	  echo "were written; both are reported. Provenance and caveats of the sets: ../shared/eval/SOURCES.md."; echo; \
	  for f in injection pii faithfulness faithfulness-types language; do cat target/eval/$$f.md; done; } > eval/RESULTS.md
	@cat eval/RESULTS.md

## bench: ingest throughput and latency against a plain JDBC batch insert in the same process (the two alternate in
## rounds (-Dbench.rounds, default 4), each round's ratio printed with the load; the call write alone as INSERT against
## binary COPY, alternating too), and the worst-case
## table: each detector and the mapper on hostile 16/32/64 KiB inputs next to a normal 2 KB call, and the PII rule
## against the scans it makes; and correlateFailures()
## per episode on 30 days of seeded history (100k episodes, 1M calls) with its query plans, ingest with it on vs off;
## one prediction tick over 1,000 deployments with an hour of history each; the impact of an episode of
## 100,000 requests and the ranking of 10,000 assessed episodes; and the SLO rollup run, the SLO listing over 50
## model groups x 30 days of minutes, and one group's budget; the learned injection classifier's µs per message beside
## the phrase rules, and ingest with it on vs off.
bench:
	$(MVN) test -Dtest='IngestBench*,InjectionModelBench,HostileInputBench,PiiPhoneBench,PiiRuleBench,LanguageFaithfulnessBench,CorrelationBench*,PredictionTickBench,ImpactBench,SloBench' \
		-Dsurefire.failIfNoSpecifiedTests=false
	@cat target/bench-ingest-content-on.md target/bench-ingest-content-off.md target/bench-content.md \
		target/bench-resend-lookup.md target/bench-hostile.md target/bench-pii-rule.md target/bench-language-faithfulness.md \
		target/bench-correlation.md \
		target/bench-correlation-ingest.md target/bench-predict.md target/bench-impact.md target/bench-slo.md \
		target/bench-injection-model.md target/bench-injection-model-ingest.md

## train-injection: rebuild train/injection/dataset.jsonl.gz from the pinned public repositories (fetched as git
## mirrors under MIRRORS, default /work/.mirror; see train/injection/DATA_CARD.md) and retrain the injection classifier
## into src/main/resources/io/faultline/content/injection-model.bin. Deterministic (seeded); not part of CI.
## Skip the data step with TRAIN_DATA=keep to retrain from the committed dataset.
train-injection: venv
	@if [ "$${TRAIN_DATA:-rebuild}" != keep ]; then \
		$(PY) train/injection/prepare_data.py --mirrors $${MIRRORS:-/work/.mirror} --eval $${EVAL_DIR:-$$([ -d ../shared/eval ] && echo ../shared/eval || echo /work/shared/eval)} \
			--out train/injection/dataset.jsonl.gz; fi
	$(MVN) -q test-compile
	$(MVN) -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=$(CP_FILE)
	java -Xmx2g -cp "target/classes:target/test-classes:$$(cat $(CP_FILE))" io.faultline.content.InjectionTrainer \
		train/injection/dataset.jsonl.gz src/main/resources/io/faultline/content/injection-model.bin

## faults: PostgreSQL goes away under a running Faultline (DatabaseOutageIT, on a PostgreSQL server of its own that
## it stops and starts, 127.0.0.1 only): at start-up, for FAULTS_OUTAGE_S (default 60) seconds in the middle of steady
## traffic through the real LiteLLM, and with the connection pool held full. Counts calls sent, stored and duplicated,
## 503s and the readiness timeline -> target/faults/report.md. `make test` runs it with a 15 s outage.
faults: venv
	timeout 45m $(MVN) verify -Dit.test=DatabaseOutageIT -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false \
		-Dfaultline.venv=$(abspath $(VENV)) -Dfaultline.faults.outage-seconds=$${FAULTS_OUTAGE_S:-60}
	@cat target/faults/report.md

## fuzz: the fuzz campaign (FuzzIT) at full size: 10,000 mutated requests against the packaged jar on a real
## PostgreSQL. FUZZ_SEED (default: today's date, UTC) and FUZZ_REQUESTS (default 10000) reproduce a run;
## report in target/fuzz/report.md, reproducers in target/fuzz/repro/replay.sh. `make test` runs 1,000.
fuzz:
	@seed=$${FUZZ_SEED:-$$(date -u +%Y%m%d)}; echo "fuzz seed: $$seed"; \
	$(MVN) verify -Dit.test=FuzzIT -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false \
		-Dfaultline.fuzz.seed=$$seed -Dfaultline.fuzz.requests=$${FUZZ_REQUESTS:-10000}

## native-sources: run Quarkus's native build steps without GraalVM (GraalVM cannot be installed here).
native-sources:
	$(MVN) package -DskipTests -Dquarkus.native.enabled=true -Dquarkus.native.sources-only=true

## native: a real native binary, in the Mandrel builder container (needs a Docker engine).
native:
	$(MVN) package -Pnative -DskipTests -Dquarkus.native.container-build=true

## image: the production container image (multi-stage native build; needs a Docker engine).
image:
	docker build -f src/main/docker/Dockerfile.native -t faultline:latest .

venv: $(VENV)/.installed

$(VENV)/.installed: litellm/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r litellm/requirements.txt
	touch $@

build:
	$(MVN) package -DskipTests
	$(MVN) dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=$(CP_FILE) -q

clean:
	$(MVN) clean
