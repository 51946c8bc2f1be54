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

  @CreateDateColumn()
  createdAt: Date;
}
