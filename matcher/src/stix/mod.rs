//! STIX 2.1 patterning: a parser for the whole grammar and a compiler from
//! patterns to match keys.
