/**
 * avsc options for reading events back as text, for people and files: as avroTypeOptions() (every
 * long a bigint), plus Avro decimals (bytes holding the unscaled two's-complement integer) read as
 * their exact decimal text, since the scale lives only in the schema. Read only: a replay never
 * encodes, so writing a decimal through these options is refused.
 */
import avsc from 'avsc';
import { avroTypeOptions, decimalText } from '../events/pg-types.js';

class DecimalText extends avsc.types.LogicalType {
  private readonly scale: number;

  constructor(schema: avsc.Schema, options?: unknown) {
    super(schema, options);
    this.scale = Number((schema as { scale?: number }).scale ?? 0);
  }

  override _fromValue(value: unknown): string {
    return decimalText(value as Buffer, this.scale);
  }

  override _toValue(): never {
    throw new Error('decimals read as text cannot be written');
  }
}

export function readableAvroTypeOptions(): Partial<avsc.ForSchemaOptions> {
  return { ...avroTypeOptions(), logicalTypes: { decimal: DecimalText } };
}
