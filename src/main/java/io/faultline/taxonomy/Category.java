package io.faultline.taxonomy;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Locale;

/** The five failure families of the Faultline taxonomy. */
public enum Category {
    PROVIDER, QUALITY, COST, SECURITY, DATA;

    @JsonValue
    public String json() {
        return name();
    }

    @JsonCreator
    public static Category parse(String value) {
        return valueOf(value.trim().toUpperCase(Locale.ROOT));
    }
}
