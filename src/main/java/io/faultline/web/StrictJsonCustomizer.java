package io.faultline.web;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;

/**
 * A body bound to a record (a baseline run) is one JSON value: content after it is refused (400), where Jackson
 * stopped at the end of the first value and the rest went unread. The bodies read as trees say the same
 * ({@link JsonBodies}: "more than one JSON value").
 */
@Singleton
public class StrictJsonCustomizer implements ObjectMapperCustomizer {

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }
}
