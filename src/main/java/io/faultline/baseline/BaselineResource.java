package io.faultline.baseline;

import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.ResponseStatus;
import org.jboss.resteasy.reactive.RestPath;
import org.jboss.resteasy.reactive.RestQuery;

import java.util.List;
import java.util.Map;

/** Baseline profiles (jobs), the baselines they and live traffic produce, and deviation checks. */
@Path("/api/v1/baselines")
@Tag(name = "baselines")
@Produces(MediaType.APPLICATION_JSON)
public class BaselineResource {

    private final BaselineProfiler profiler;
    private final BaselineStore store;
    private final DeviationDetector deviations;
    private final BaselineConfig config;

    public BaselineResource(BaselineProfiler profiler, BaselineStore store, DeviationDetector deviations,
            BaselineConfig config) {
        this.profiler = profiler;
        this.store = store;
        this.deviations = deviations;
        this.config = config;
    }

    /** What to profile; omitted numbers take the configured defaults. */
    public record StartRun(@NotBlank @Pattern(regexp = "[a-z0-9_.-]{1,40}") String provider,
            // Stored as text: no control characters (PostgreSQL refuses NUL), no lone surrogate (no character at all:
            // UTF-8 cannot encode it), no bidirectional control (LogText.isBidiControl), no longer than a model name.
            @NotBlank @Size(max = 200)
            @Pattern(regexp = "[^\\p{Cntrl}\\p{Cs}\\x{200E}\\x{200F}\\x{202A}-\\x{202E}\\x{2066}-\\x{2069}]{1,200}")
            String modelGroup,
            @Min(1) @Max(100_000) Integer requests, @Min(1) @Max(64) Integer concurrency,
            @DecimalMin("0.1") @DecimalMax("1000") Double ratePerSecond) {
    }

    @POST
    @Path("/runs")
    @ResponseStatus(202)
    @Operation(summary = "Start a baseline profile of one provider's model group through LiteLLM")
    @APIResponse(responseCode = "202", description = "Started: poll GET /api/v1/baselines/runs/{runId}",
            content = @Content(mediaType = "application/json",
                    schema = @Schema(implementation = BaselineProfiler.RunView.class)))
    @APIResponse(responseCode = "400", description = "A field is missing or out of range: see errors")
    @APIResponse(responseCode = "409", description = "The provider has a run going, or no LiteLLM key is set")
    public BaselineProfiler.RunView start(@NotNull @Valid StartRun run, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return profiler.start(new BaselineProfiler.RunRequest(run.provider(), run.modelGroup(),
                run.requests() == null ? config.requests() : run.requests(),
                run.concurrency() == null ? config.concurrency() : run.concurrency(),
                run.ratePerSecond() == null ? config.ratePerSecond() : run.ratePerSecond()));
    }

    @GET
    @Path("/runs/{runId}")
    @Operation(summary = "Progress of a baseline profile: sent/total, errors, ETA")
    public BaselineProfiler.RunView run(@RestPath String runId, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return profiler.status(Params.uuid("runId", runId))
                .orElseThrow(() -> new ApiProblem(404, "Not found", "No run " + runId));
    }

    @DELETE
    @Path("/runs/{runId}")
    @Operation(summary = "Cancel a running baseline profile")
    @APIResponse(responseCode = "200", description = "Cancel requested: the run stops and reads \"cancelled\"",
            content = @Content(mediaType = "application/json",
                    schema = @Schema(implementation = BaselineProfiler.RunView.class)))
    @APIResponse(responseCode = "404", description = "No such run")
    @APIResponse(responseCode = "409", description = "The run already ended (runStatus says how); nothing was"
            + " cancelled")
    public BaselineProfiler.RunView cancel(@RestPath String runId, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        BaselineProfiler.RunView view = profiler.cancel(Params.uuid("runId", runId))
                .orElseThrow(() -> new ApiProblem(404, "Not found", "No run " + runId));
        if (!"running".equals(view.status())) {
            // A 200 carrying "completed" read as if the cancel took: say that nothing was cancelled.
            throw ApiProblem.withMembers(409, "Run already ended", "Run " + view.runId() + " already ended with"
                    + " status " + view.status() + "; nothing was cancelled", Map.of("runStatus", view.status()));
        }
        return view;
    }

    @GET
    @Operation(summary = "Current baselines, newest per scope, metric and source; provider in any of its spellings")
    public List<BaselineStore.Baseline> list(@RestQuery String provider, @RestQuery String metric,
            @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("provider", "metric"));
        if (metric != null && !BaselineStore.knownMetric(metric)) {
            throw ApiProblem.badRequest("metric", "metric must be one of " + BaselineStore.METRICS
                    + ", or error_rate:<HTTP status> (error_rate:429) or error_rate:no_answer");
        }
        if (provider == null) {
            return store.current(null, metric);
        }
        // Profiles are stored under the normalised provider a run is locked on, passive baselines under the provider
        // the calls were logged with: a filter of any spelling (claude, text-completion-openai) finds both.
        String wanted = BaselineProfiler.normaliseProvider(provider);
        if (wanted.isEmpty()) {
            throw ApiProblem.badRequest("provider", "provider must name a provider, not only a variant's prefix or"
                    + " suffix (text-completion-, _beta)");
        }
        return store.current(null, metric).stream()
                .filter(b -> BaselineProfiler.normaliseProvider(b.provider()).equals(wanted)).toList();
    }

    @POST
    @Path("/deviations")
    @Operation(summary = "Compare the current window with the baselines now (the scheduler does it every minute)")
    public List<DeviationDetector.Deviation> detect(@Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return deviations.detectDeviation();
    }
}
