-- A 4xx that the classifier types malformed_response (the provider's answer did not parse, such as Gemini's broken
-- JSON that LiteLLM reports as a 422) is a provider-side failure (DeviationDetector.PROVIDER_SIDE_FAILURE), so it
-- spends the error budget. Folded requests stored whether they spend under the old rule: the fold state is dropped
-- and the next assessment folds anew, as V59 did. The stored slo_minutes keep their counts until derived again.
delete from impact_state;
