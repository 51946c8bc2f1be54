import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('transfer')
export class Transfer {
  @PrimaryGeneratedColumn()
  id: number;

  @Column()
  fromId: number;

  @Column()
  toId: number;

  /** In cents. */
  @Column({ type: 'bigint', transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  amount: number;

  /** The request's Idempotency-Key, when it had one: a key is applied once (unique). */
  @Column({ type: 'varchar', length: 191, nullable: true, unique: true })
  idempotencyKey: string | null;

  @CreateDateColumn()
  createdAt: Date;
}
