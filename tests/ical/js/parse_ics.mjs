// Parse an .ics file with ical.js (Thunderbird's parser) and print its events as JSON.
//
// Usage: node parse_ics.mjs FILE.ics
// Start and end are UTC instants computed by ical.js from the file's own VTIMEZONE
// (the zone is looked up in the parsed VCALENDAR; nothing is registered from outside).
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2], "utf8");
const calendar = new ICAL.Component(ICAL.parse(text));

function instant(time) {
  return {
    utc: time.toJSDate().toISOString(),
    tzid: time.zone ? time.zone.tzid : null,
  };
}

const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const start = instant(event.startDate);
  const end = instant(event.endDate);
  return {
    uid: event.uid,
    sequence: event.sequence,
    status: vevent.getFirstPropertyValue("status"),
    summary: event.summary,
    location: event.location,
    description: event.description,
    start: start.utc,
    start_tzid: start.tzid,
    end: end.utc,
    end_tzid: end.tzid,
  };
});

process.stdout.write(JSON.stringify({ events }) + "\n");
