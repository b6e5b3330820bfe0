package io.faultline.simulator;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Which provider API a request path addresses, and for which deployment (the optional first path segment);
 * {@code embeddings} for OpenAI's {@code /v1/embeddings}, {@code responses} for its Responses API
 * ({@code /v1/responses}).
 */
record Route(Provider provider, String deployment, String model, boolean streamMethod, boolean sse,
             boolean embeddings, boolean responses) {

    static final String DEFAULT_DEPLOYMENT = "default";

    /** First segments that belong to the provider APIs themselves, so they cannot name a deployment. */
    private static final Set<String> API_ROOTS = Set.of("v1", "v1beta", "v1alpha", "models", "chat", "messages",
            "embeddings", "responses");

    static Optional<Route> parse(String path, String query) {
        List<String> segments = Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toList();
        if (segments.isEmpty()) {
            return Optional.empty();
        }
        boolean named = !API_ROOTS.contains(segments.get(0));
        String deployment = named ? segments.get(0) : DEFAULT_DEPLOYMENT;
        List<String> api = segments.subList(named ? 1 : 0, segments.size());
        if (api.equals(List.of("v1", "chat", "completions")) || api.equals(List.of("chat", "completions"))) {
            return Optional.of(new Route(Provider.OPENAI, deployment, null, false, false, false, false));
        }
        if (api.equals(List.of("v1", "responses")) || api.equals(List.of("responses"))) {
            return Optional.of(new Route(Provider.OPENAI, deployment, null, false, false, false, true));
        }
        if (api.equals(List.of("v1", "embeddings")) || api.equals(List.of("embeddings"))) {
            return Optional.of(new Route(Provider.OPENAI, deployment, null, false, false, true, false));
        }
        if (api.equals(List.of("v1", "messages"))) {
            return Optional.of(new Route(Provider.ANTHROPIC, deployment, null, false, false, false, false));
        }
        if (api.size() >= 2 && api.get(api.size() - 2).equals("models")) {
            String last = api.get(api.size() - 1);
            int colon = last.lastIndexOf(':');
            String method = colon < 0 ? "" : last.substring(colon + 1);
            if (method.equals("generateContent") || method.equals("streamGenerateContent")) {
                boolean sse = query != null && Arrays.asList(query.split("&")).contains("alt=sse");
                return Optional.of(new Route(Provider.GEMINI, deployment, last.substring(0, colon),
                        method.equals("streamGenerateContent"), sse, false, false));
            }
        }
        return Optional.empty();
    }
}
