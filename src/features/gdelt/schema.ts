/**
 * The GDELT 2.0 tables we land, column by column, in file order. Names and base types follow the codebook files
 * in db/seed/gdelt/schema (a unit test keeps them in step); the codebook's INTEGER/FLOAT/STRING become DuckDB
 * types, and its YYYYMMDD / YYYYMMDDHHMMSS integers become real DATE / TIMESTAMP (UTC) columns so the lake can
 * be filtered and grouped by time without string tricks.
 */
export type DuckType = 'BIGINT' | 'INTEGER' | 'DOUBLE' | 'VARCHAR' | 'DATE' | 'TIMESTAMP';
export type Column = { name: string; codebook: 'INTEGER' | 'FLOAT' | 'STRING'; type: DuckType };
export type TableName = 'events' | 'mentions';

const I = (name: string, type: DuckType = 'INTEGER'): Column => ({ name, codebook: 'INTEGER', type });
const F = (name: string): Column => ({ name, codebook: 'FLOAT', type: 'DOUBLE' });
const S = (name: string): Column => ({ name, codebook: 'STRING', type: 'VARCHAR' });

const actor = (n: 1 | 2) => [
  S(`Actor${n}Code`), S(`Actor${n}Name`), S(`Actor${n}CountryCode`), S(`Actor${n}KnownGroupCode`), S(`Actor${n}EthnicCode`),
  S(`Actor${n}Religion1Code`), S(`Actor${n}Religion2Code`), S(`Actor${n}Type1Code`), S(`Actor${n}Type2Code`), S(`Actor${n}Type3Code`),
];
const geo = (p: string) => [
  I(`${p}Geo_Type`), S(`${p}Geo_FullName`), S(`${p}Geo_CountryCode`), S(`${p}Geo_ADM1Code`), S(`${p}Geo_ADM2Code`),
  F(`${p}Geo_Lat`), F(`${p}Geo_Long`), S(`${p}Geo_FeatureID`),
];

export const EVENT_COLUMNS: Column[] = [
  I('GLOBALEVENTID', 'BIGINT'), I('SQLDATE', 'DATE'), I('MonthYear'), I('Year'), F('FractionDate'),
  ...actor(1), ...actor(2),
  I('IsRootEvent'), S('EventCode'), S('EventBaseCode'), S('EventRootCode'), I('QuadClass'), F('GoldsteinScale'),
  I('NumMentions'), I('NumSources'), I('NumArticles'), F('AvgTone'),
  ...geo('Actor1'), ...geo('Actor2'), ...geo('Action'),
  I('DATEADDED', 'TIMESTAMP'), S('SOURCEURL'),
];

export const MENTION_COLUMNS: Column[] = [
  I('GLOBALEVENTID', 'BIGINT'), I('EventTimeDate', 'TIMESTAMP'), I('MentionTimeDate', 'TIMESTAMP'), I('MentionType'),
  S('MentionSourceName'), S('MentionIdentifier'), I('SentenceID'), I('Actor1CharOffset'), I('Actor2CharOffset'),
  I('ActionCharOffset'), I('InRawText'), I('Confidence'), I('MentionDocLen'), F('MentionDocTone'),
  S('MentionDocTranslationInfo'), S('Extras'),
];

export const TABLES: Record<TableName, { columns: Column[]; /** suffix of the batch file name in the manifest */ suffix: string }> = {
  events: { columns: EVENT_COLUMNS, suffix: '.export.CSV.zip' },
  mentions: { columns: MENTION_COLUMNS, suffix: '.mentions.CSV.zip' },
};

export const TABLE_NAMES = Object.keys(TABLES) as TableName[];
