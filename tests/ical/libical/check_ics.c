/* Reads an .ics file with libical (Evolution, GNOME Calendar) and prints what it understood.
 *
 * Output, one item per line, tab-separated:
 *   ERROR <text>                      a parse error or an iTIP restriction libical found
 *                                     (icalrestriction_check: RFC 5546 rules for the METHOD)
 *   EVENT <uid> <start> <end> <tzid> <sequence> <status> <summary> <location> <description>
 *                                     start and end as Unix seconds (UTC), read through the
 *                                     file's own VTIMEZONE as libical resolves the TZID; text
 *                                     with backslash, tab, CR and LF escaped as \\ \t \r \n,
 *                                     and a missing property as an empty field
 * Exit status: 0 when read, 2 when the file cannot be read or is not one VCALENDAR.
 */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>

static char *read_all(const char *path) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (data == NULL || fread(data, 1, (size_t)size, file) != (size_t)size) {
        fclose(file);
        free(data);
        return NULL;
    }
    data[size] = '\0';
    fclose(file);
    return data;
}

static void print_text(const char *text) {
    putchar('\t');
    for (const char *c = text ? text : ""; *c; c++) {
        switch (*c) {
        case '\\': fputs("\\\\", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        default: putchar(*c);
        }
    }
}

static void print_errors(icalcomponent *component) {
    for (icalproperty *p = icalcomponent_get_first_property(component, ICAL_XLICERROR_PROPERTY);
         p != NULL; p = icalcomponent_get_next_property(component, ICAL_XLICERROR_PROPERTY)) {
        printf("ERROR\t%s: %s\n", icalcomponent_kind_to_string(icalcomponent_isa(component)),
               icalproperty_get_xlicerror(p));
    }
    for (icalcomponent *c = icalcomponent_get_first_component(component, ICAL_ANY_COMPONENT);
         c != NULL; c = icalcomponent_get_next_component(component, ICAL_ANY_COMPONENT)) {
        print_errors(c);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char *data = read_all(argv[1]);
    if (data == NULL) return 2;
    icalcomponent *calendar = icalparser_parse_string(data);
    free(data);
    if (calendar == NULL || icalcomponent_isa(calendar) != ICAL_VCALENDAR_COMPONENT) return 2;
    icalrestriction_check(calendar);
    print_errors(calendar);
    for (icalcomponent *event = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT);
         event != NULL; event = icalcomponent_get_next_component(calendar, ICAL_VEVENT_COMPONENT)) {
        struct icaltimetype start = icalcomponent_get_dtstart(event);
        struct icaltimetype end = icalcomponent_get_dtend(event);
        const char *tzid = start.zone ? icaltimezone_get_tzid((icaltimezone *)start.zone) : NULL;
        enum icalproperty_status status = icalcomponent_get_status(event);
        printf("EVENT");
        print_text(icalcomponent_get_uid(event));
        printf("\t%lld\t%lld\t%s\t%d", (long long)icaltime_as_timet_with_zone(start, start.zone),
               (long long)icaltime_as_timet_with_zone(end, end.zone),
               tzid ? tzid : (icaltime_is_utc(start) ? "UTC" : "floating"),
               icalcomponent_get_sequence(event));
        print_text(status == ICAL_STATUS_NONE ? "" : icalproperty_status_to_string(status));
        print_text(icalcomponent_get_summary(event));
        print_text(icalcomponent_get_location(event));
        print_text(icalcomponent_get_description(event));
        putchar('\n');
    }
    icalcomponent_free(calendar);
    return 0;
}
