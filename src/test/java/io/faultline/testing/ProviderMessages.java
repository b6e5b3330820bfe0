package io.faultline.testing;

/** Provider error messages as LiteLLM hands them to the callback, for the classifier's tests. */
public final class ProviderMessages {

    private ProviderMessages() {
    }

    /**
     * Gemini's 429 as LiteLLM words it: its exception prefix, then Google's body as it came (the provider-wire
     * fixture {@code gemini_429_resource_exhausted}, with the quota id and, unless null, Google's RetryInfo given).
     */
    public static String geminiQuota(String quotaId, String retryDelay) {
        String retryInfo = retryDelay == null ? "" : """
                ,
                      {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": "%s"
                      }""".formatted(retryDelay);
        return "litellm.RateLimitError: litellm.RateLimitError: GeminiException - " + """
                {
                  "error": {
                    "code": 429,
                    "message": "You exceeded your current quota, please check your plan and billing details. \
                For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [
                      {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                          {
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": "%s",
                            "quotaDimensions": {
                              "location": "global",
                              "model": "gemini-2.5-flash"
                            },
                            "quotaValue": "250000"
                          }
                        ]
                      },
                      {
                        "@type": "type.googleapis.com/google.rpc.Help",
                        "links": [
                          {
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits"
                          }
                        ]
                      }%s
                    ]
                  }
                }
                """.formatted(quotaId, retryInfo);
    }
}
